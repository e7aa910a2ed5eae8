"""Declarative automation: the sensor that evaluates the assets' automation conditions."""

import dagster as dg

# Dagster makes a `default_automation_condition_sensor` by itself, but stopped: questionnaire_scores
# (AutomationCondition.eager()) would then never follow its answers. This one covers every asset,
# so Dagster's own is not made, and it is on by default (the daemon of `make ui` runs it).
automation_condition_sensor = dg.AutomationConditionSensorDefinition(
    "automation_condition_sensor",
    target=dg.AssetSelection.all(),
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Every 30 s: materialises the assets whose automation condition is met (questionnaire_scores "
    "of a partition after its questionnaire_answers change). On by default; runs under the daemon "
    "(make ui, dagster dev).",
)
