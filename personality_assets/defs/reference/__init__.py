"""The reference data: the questionnaire definitions and the reference populations (a partition
each), loaded by hand, by the reference_data job or from the drop folder's sensor."""
