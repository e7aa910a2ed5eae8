"""The offline simulated provider: deterministic, marked, and plausible enough to analyse."""

import json
import statistics
from collections import Counter

from personality_assets.defs.persona_study.replies import PersonaReply, QuestionnaireReply
from personality_assets.defs.values.replies import SCHWARTZ_VALUES, JournalReply, JudgeReply
from personality_assets.defs.values.simulate import PHRASES
from personality_assets.llm.config import ModelConfig, ModelsConfig
from personality_assets.llm.engine import CallEngine
from personality_assets.llm.providers import Providers
from personality_assets.llm.providers.simulated import SimulatedProvider, simulate_reply
from personality_assets.llm.types import ChatRequest

SIM_A = ModelConfig(key="sim_a", provider="simulated", model_id="sim")
SIM_B = ModelConfig(key="sim_b", provider="simulated", model_id="sim")


def _request(purpose, hints=None, repetition=0, text="go"):
    return ChatRequest(
        model="sim_a", messages=(("user", text),), purpose=purpose, hints=hints or {}, repetition=repetition
    )


def test_replies_are_deterministic_and_marked():
    request = _request("persona", {"traits": {"EXT": 1.5}})
    assert simulate_reply(request, SIM_A) == simulate_reply(request, SIM_A)
    assert simulate_reply(request, SIM_A) != simulate_reply(_request("persona", {"traits": {"EXT": 1.5}}, 1), SIM_A)
    for purpose in ("persona", "questionnaire", "value_persona", "journal", "nudge", "nudge_answer", "judge"):
        assert json.loads(simulate_reply(_request(purpose), SIM_A))["simulated"] is True


def test_every_prompt_kind_validates_against_its_schema():
    PersonaReply.model_validate_json(simulate_reply(_request("persona"), SIM_A))
    JournalReply.model_validate_json(simulate_reply(_request("journal"), SIM_A))
    JudgeReply.model_validate_json(simulate_reply(_request("judge"), SIM_A))


def test_the_simulated_judge_finds_the_planted_signals_and_little_else():
    def judged(text, repetition=0):
        return JudgeReply.model_validate_json(
            simulate_reply(_request("judge", repetition=repetition, text=text), SIM_A)
        )

    for value in SCHWARTZ_VALUES:
        supports, opposes = PHRASES[value]
        assert getattr(judged(supports), value) == 1 and getattr(judged(opposes), value) == -1, value
    # A text with no planted signal: only the occasional spurious label (2% of labels by design).
    neutral = [judged("I had lunch.", repetition) for repetition in range(200)]
    spurious = sum(label != 0 for reply in neutral for label in reply.vector())
    assert 0 < spurious < 0.05 * 200 * len(SCHWARTZ_VALUES)


def test_personas_follow_traits_and_models_differ_in_demographics():
    persona = PersonaReply.model_validate_json(simulate_reply(_request("persona", {"traits": {"EXT": 2.0}}), SIM_A))
    assert "outgoing" in persona.description
    genders = {
        model.key: Counter(
            json.loads(simulate_reply(_request("persona", repetition=i), model))["gender"] for i in range(600)
        )
        for model in (SIM_A, SIM_B)
    }
    assert set(genders["sim_a"]) <= {"female", "male", "non-binary"} and len(genders["sim_a"]) >= 2
    assert genders["sim_a"] != genders["sim_b"]


def test_answers_follow_the_reference_person_with_noise():
    profile = {n: (n % 5) + 1 for n in range(1, 51)}
    reply = QuestionnaireReply.model_validate_json(
        simulate_reply(_request("questionnaire", {"profile": profile, "min": 1, "max": 5}), SIM_A)
    )
    answers = [reply.answers[n] for n in range(1, 51)]
    assert set(reply.answers) == set(profile) and all(1 <= a <= 5 for a in answers)
    same = sum(a == profile[n] for n, a in zip(range(1, 51), answers, strict=True))
    assert 25 <= same < 50  # mostly the person's own answer, not a copy
    assert statistics.correlation(answers, [profile[n] for n in range(1, 51)]) > 0.7


def test_simulator_through_the_engine_needs_no_network(db_target):
    engine = CallEngine(
        ModelsConfig(default_model="sim_a", models={"sim_a": SIM_A.model_copy(update={"cache": True})}),
        Providers(simulated=SimulatedProvider()),
        target=db_target,
    )
    requests = [_request("persona", repetition=i) for i in range(50)]
    first, second = engine.run(requests), engine.run(requests)
    assert (first.ok, first.cost_usd, second.cached) == (50, 0.0, 50)
