"""What each column of the report tables shown in the UI means, in a few words: the descriptions
of their table metadata (the UI's "Show schema")."""

# Columns several tables share.
GROUP = {
    "questionnaire": "questionnaire (its name in questionnaires/)",
    "scale": "scale of the questionnaire",
    "model": "model that answered as the personas; reference: the human reference people",
    "condition": "population the personas were drawn from (sample, or a derived condition)",
    "n": "respondents in the group (personas, or reference people)",
    "significant": "Holm-corrected p < 0.05",
    "p_holm": "p value after Holm's correction across the table",
    "presentation": "item order / option order / wording of the questionnaire",
    "note": "why a value is undefined (empty when defined)",
    "95% CI": "95% confidence interval of the estimate to its left",
}

SCALE_SCORES = GROUP | {
    "mean ± sd": "mean ± sd of the scale score",
    "difference": "persona mean - reference people's mean (Welch's t)",
    "mean_abs_difference": "mean |persona score - its own reference person's score|",
    "d [95% CI]": "Cohen's d of the difference, noncentral-t 95% CI",
    "p_holm": "Welch's t p value after Holm's correction across the table",
    "p_tost_holm": "equivalence test (TOST) p value after Holm's correction",
    "equivalence": "TOST verdict: equivalent, different or inconclusive",
    "sd ratio [95% CI]": "persona sd / reference sd, F 95% CI",
    "p_spread_holm": "Brown-Forsythe test of equal spread, after Holm's correction",
}

RELIABILITY = GROUP | {
    "alpha": "Cronbach's alpha",
    "95% CI": "bootstrap 95% CI of alpha",
    "standardized_alpha": "alpha of the standardised items",
    "omega_total": "McDonald's omega total (one-factor ML model)",
    "omega 95% CI": "bootstrap 95% CI of omega total",
    "lambda6": "Guttman's lambda6",
    "n_missing": "respondents left out for missing an item of the scale (listwise)",
    "excluded_at_load": "reference people the load left out of the population",
    "note": "why alpha is undefined (empty when defined)",
    "omega_note": "why omega or lambda6 is undefined (empty when defined)",
}

VALIDITY = GROUP | {
    "trait": "trait both questionnaires measure",
    "a": "first questionnaire.scale of the pair",
    "b": "second questionnaire.scale of the pair",
    "n": "personas (or reference people) with both scores",
    "pearson_r": "Pearson r between the two scales' scores",
    "95% CI": "95% CI of Pearson r (Fisher z)",
    "spearman_rho": "Spearman rank correlation",
}

AGREEMENT = GROUP | {
    "n": "answer pairs (persona answer, its reference person's answer)",
    "accuracy": "share of answers equal to the reference person's",
    "precision": "binary items: share of keyed answers the reference also gave keyed",
    "recall": "binary items: share of the reference's keyed answers the persona gave",
    "mae": "ordinal items: mean |answer code - reference code|",
    "rmse": "ordinal items: root mean squared code difference",
}

FIDELITY = GROUP | {
    "n": "personas with an r",
    "mean_r": "mean per-persona r across items with its reference person",
    "95% CI": "t 95% CI of mean_r over personas",
    "median_r": "median per-persona r",
    "quartiles": "first and third quartile of the per-persona r",
    "share_positive": "share of personas with r > 0",
    "accuracy": "mean share of answers equal to the reference person's",
    "mae": "mean |answer code - reference code|",
    "baseline": "what the baseline r compares: random respondents or a permutation",
    "baseline_r": "mean r of the baseline",
    "ceiling_r": "humans' test-retest r (empty without a retest population)",
    "normalised": "mean_r / ceiling_r",
}

_DISTANCE = GROUP | {
    "n": "persona administrations (experiments)",
    "reference_n": "reference people",
    "mean": "personas' mean",
    "reference_mean": "reference people's mean",
    "wasserstein": "Wasserstein distance between the two distributions",
}

DISTRIBUTION_ITEMS = _DISTANCE | {
    "item": "item text",
    "scale": "scale the item belongs to",
    "mean": "personas' mean answer code",
    "reference_mean": "reference people's mean answer code",
    "similarity": "1 - W / range of the answer codes (1: the same distribution)",
}

DISTRIBUTION_SCALES = _DISTANCE | {
    "mean": "personas' mean scale score",
    "reference_mean": "reference people's mean scale score",
    "range": "possible range of the scale score",
    "similarity": "1 - W / range (1: the same distribution)",
}

DEMOGRAPHICS = GROUP | {
    "attribute": "demographic attribute",
    "category": "category of the attribute",
    "count": "personas in the category",
    "share": "share of the model × condition's personas",
    "significant": "share differs from the base condition's (z-test, Holm p < 0.05)",
}

MARGINALS = GROUP | {
    "attribute": "demographic attribute",
    "n": "personas",
    "unlisted": "personas in a category the marginals file does not list",
    "total_variation": "total-variation distance from the marginal shares (0: equal)",
    "chi2": "chi-squared goodness of fit statistic",
    "df": "degrees of freedom of the chi-squared test",
    "p": "p value of the chi-squared test",
}

RESPONSE_STYLES = GROUP | {
    "index": "response-style index",
    "n": "personas (repetitions averaged)",
    "mean ± sd": "personas' mean ± sd of the index",
    "humans mean ± sd": "reference people's mean ± sd of the index",
    "difference": "personas' mean - reference people's mean",
    "cohens_d": "Cohen's d (pooled sd)",
    "p_holm": "Welch's t p value after Holm's correction across the table",
}

DESIRABILITY = GROUP | {
    "scale": "scale (overall: the mean over the questionnaire's scales)",
    "pole": "desirable pole of the scale (high or low)",
    "scales": "scales averaged",
    "shift": "shift of the persona mean toward the desirable pole, in human sd units",
}

REPLY_PROBLEMS = GROUP | {
    "model": "model that answered",
    "purpose": "kind of call (questionnaire)",
    "requests": "calls made (cached replies not counted)",
    "first_reply_invalid": "calls whose first reply did not parse or validate",
    "first_reply_invalid_share": "first_reply_invalid / requests",
    "invalid_after_retries": "calls still invalid after their retries",
    "invalid_share": "invalid_after_retries / requests",
    "failed": "calls that got no reply",
    "failed_share": "failed / requests",
    "refusals": "replies whose text reads as a refusal",
    "refusal_share": "refusals / requests",
}

ROBUSTNESS = GROUP | {
    "factor": "presentation factor varied (item order, option order, wording)",
    "level": "non-base level compared with the base level",
    "n": "personas with a score under both levels",
    "mean_shift": "mean of (score under the level - score under the base)",
    "d_av": "Cohen's d_av of the shift",
    "p_holm": "paired t p value after Holm's correction across the table",
    "icc": "ICC(3,1), consistency of the persona scores across the two levels",
    "ICC 95% CI": "95% CI of ICC(3,1)",
    "icc_agreement": "ICC(2,1), absolute agreement",
    "alpha_base": "Cronbach's alpha under the base level",
    "alpha_level": "Cronbach's alpha under the level",
    "verdict": "unstable (ICC < 0.75), shifts (Holm p < 0.05 and |d_av| >= 0.2), else stable",
}

# p values keep four decimals in the UI's tables; everything else three.
P_VALUES = {name: 4 for name in ("p", "p_holm", "p_tost_holm", "p_spread_holm")}
