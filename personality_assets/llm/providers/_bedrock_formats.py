"""Bedrock's model-native request and reply bodies (InvokeModel's, which batch inference takes as
each record's ``modelInput`` and returns as its ``modelOutput``), by model family. Online calls use
the Converse API, one format for every model; batch inference has no Converse form.

Families by the provider model id, after any inference-profile prefix (``us.``, ``eu.``, ...):
``anthropic.`` (Messages API), ``meta.`` (Llama 3 chat prompt), ``amazon.nova`` (messages-v1),
``mistral.`` (``[INST]`` prompt).
"""

from __future__ import annotations

from typing import Any

from personality_assets.llm.types import ChatRequest, UserActionRequired

PROFILE_PREFIXES = ("us.", "eu.", "apac.", "us-gov.", "global.", "ca.", "jp.", "au.")
FAMILIES = {"anthropic.": "anthropic", "meta.": "meta", "amazon.nova": "amazon.nova", "mistral.": "mistral"}


def family(model_id: str) -> str:
    base = model_id
    for prefix in PROFILE_PREFIXES:
        if base.startswith(prefix):
            base = base[len(prefix) :]
            break
    for start, name in FAMILIES.items():
        if base.startswith(start):
            return name
    raise UserActionRequired(
        f"Bedrock batch inference: no native body format for model {model_id!r} (known families: "
        f"{', '.join(FAMILIES.values())}); set mode: online for this model"
    )


def _system(request: ChatRequest) -> str:
    return "\n\n".join(text for role, text in request.messages if role == "system")


def _turns(request: ChatRequest) -> list[tuple[str, str]]:
    return [(role, text) for role, text in request.messages if role != "system"]


def request_body(request: ChatRequest, model_id: str, parameters: dict[str, Any]) -> dict:
    """The model's native InvokeModel body for the request (temperature, top_p, max_tokens from
    ``parameters``)."""
    kind = family(model_id)
    system, turns = _system(request), _turns(request)
    temperature, top_p, max_tokens = parameters["temperature"], parameters["top_p"], parameters["max_tokens"]
    if kind == "anthropic":
        body = {
            "anthropic_version": "bedrock-2023-05-31",
            "max_tokens": max_tokens,
            "temperature": temperature,
            "top_p": top_p,
            "messages": [{"role": role, "content": [{"type": "text", "text": text}]} for role, text in turns],
        }
        return body | ({"system": system} if system else {})
    if kind == "amazon.nova":
        body = {
            "schemaVersion": "messages-v1",
            "messages": [{"role": role, "content": [{"text": text}]} for role, text in turns],
            "inferenceConfig": {"maxTokens": max_tokens, "temperature": temperature, "topP": top_p},
        }
        return body | ({"system": [{"text": system}]} if system else {})
    if kind == "meta":
        prompt = "<|begin_of_text|>"
        if system:
            prompt += f"<|start_header_id|>system<|end_header_id|>\n\n{system}<|eot_id|>"
        for role, text in turns:
            prompt += f"<|start_header_id|>{role}<|end_header_id|>\n\n{text}<|eot_id|>"
        prompt += "<|start_header_id|>assistant<|end_header_id|>\n\n"
        return {"prompt": prompt, "max_gen_len": max_tokens, "temperature": temperature, "top_p": top_p}
    # mistral: the system text leads the first instruction
    prompt, first = "<s>", True
    for role, text in turns:
        if role == "user":
            lead = f"{system}\n\n" if first and system else ""
            prompt += f"[INST] {lead}{text} [/INST]"
            first = False
        else:
            prompt += f" {text}</s>"
    return {"prompt": prompt, "max_tokens": max_tokens, "temperature": temperature, "top_p": top_p}


def reply_of(model_id: str, output: dict) -> tuple[str, int | None, int | None]:
    """(text, input tokens, output tokens) from the model's native reply; tokens None where the
    family does not report them. Raises KeyError/TypeError/IndexError on a body of another shape."""
    kind = family(model_id)
    if kind == "anthropic":
        text = "".join(part["text"] for part in output["content"] if part.get("type") == "text")
        usage = output.get("usage") or {}
        return text, usage.get("input_tokens"), usage.get("output_tokens")
    if kind == "amazon.nova":
        text = "".join(part.get("text", "") for part in output["output"]["message"]["content"])
        usage = output.get("usage") or {}
        return text, usage.get("inputTokens"), usage.get("outputTokens")
    if kind == "meta":
        return output["generation"], output.get("prompt_token_count"), output.get("generation_token_count")
    return output["outputs"][0]["text"], None, None
