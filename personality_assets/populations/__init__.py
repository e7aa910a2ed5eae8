"""Reference populations: reading respondent files (wide or long), the synthetic sample, derived
populations, the drop folder, and loading them into the reference schema. Framework-free: no
Dagster here."""
