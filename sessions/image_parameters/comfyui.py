"""ComfyUI: the API graph in the ``prompt`` text chunk.

``SaveImage`` (``nodes.py``) writes ``json.dumps(prompt)``: ``{node id: {"class_type": ...,
"inputs": {name: literal or [source node id, output slot]}}}``, plus the editor's ``workflow``.
The graph holds no "result"; it is read the way the image was made:

1. the sampler that produced the saved image: the first node reached going upstream from the
   save nodes that looks like a sampler (``KSampler``, ``KSamplerAdvanced``, ``SamplerCustom``,
   ``SamplerCustomAdvanced`` and custom nodes with ``positive`` or ``guider`` and a latent input);
2. then the first pass: while its latent comes from another sampler (hires fix, refiner), that
   one (like AUTOMATIC1111's infotext, which describes the first pass);
3. its seed (``seed``, ``noise_seed``, or the ``RandomNoise`` node), steps, cfg, sampler and
   scheduler (from ``KSamplerSelect``/``BasicScheduler`` for the custom samplers), its ``model``
   followed through LoRA loaders and patches to a loader's ``ckpt_name``/``unet_name``, its
   ``positive``/``negative`` followed through combine, concat, area and ControlNet nodes to the
   text encoders (``text``; SDXL ``text_g``/``text_l``; Flux/SD3 ``clip_l``/``t5xxl``), and
   width and height from the empty latent it started from.

Broken graphs (cycles, links to missing nodes, odd values) give what can be reached: every walk
keeps a visited set and stops after ``_MAX_STEPS`` nodes.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from typing import Any

from .result import ImageParameters, build


class _Node:
    __slots__ = ("class_type", "inputs", "links")

    def __init__(self, class_type: str, inputs: dict[str, Any]) -> None:
        self.class_type = class_type
        self.inputs = inputs
        # (input name, source node id, output slot) of every linked input, worked out once
        # (inline rather than through _link: this runs for every input of every node).
        self.links: list[tuple[str, str, int]] = []
        links = self.links
        for name, value in inputs.items():
            if type(value) is list and len(value) == 2:
                source, slot = value
                if type(slot) is int and (type(source) is str or type(source) is int):
                    links.append((name, str(source), slot))


Graph = dict[str, _Node]

_MAX_STEPS = 2000
_MAX_VALUE_HOPS = 4
_SAMPLER_CLASSES = frozenset({"KSampler", "KSamplerAdvanced", "SamplerCustom", "SamplerCustomAdvanced"})
_LATENT_INPUTS = ("latent_image", "latent", "samples")
_TEXT_INPUTS = ("text", "text_g", "text_l", "clip_l", "clip_g", "t5xxl", "prompt")
# Inputs that never carry conditioning: not followed when looking for the prompt text.
_NOT_CONDITIONING = frozenset({
    "clip", "model", "vae", "control_net", "image", "images", "pixels", "mask", "clip_vision",
    "clip_vision_output", "style_model", "samples", "latent", "latent_image", "upscale_model", "noise",
    "sigmas", "sampler", "guider", "unet", "ipadapter", "lora",
})
# Conditioning nodes whose output deliberately carries no text (Flux's empty negative).
_EMPTY_CONDITIONING = frozenset({"ConditioningZeroOut"})
_MODEL_NAMES = ("ckpt_name", "unet_name", "model_name", "base_ckpt_name")
# Names under which value nodes (seed generators, primitives, string nodes) hold their value.
_VALUE_NAMES = ("value", "seed", "noise_seed", "int", "float", "number", "string", "text", "String", "Text")


def parse_graph(document: Any) -> ImageParameters | None:
    """The parameters of a ComfyUI API graph; None when ``document`` is not one."""
    graph = _nodes(document)
    if not graph:
        return None
    samplers = [node_id for node_id, node in graph.items() if _is_sampler(node)]
    # One sampler, the usual graph, needs no search for the final one or the first pass.
    sampler = samplers[0] if len(samplers) == 1 else _first_pass(graph, _final_sampler(graph))
    if sampler is None:
        return build("ComfyUI")
    node = graph[sampler]
    guider = _linked_node(graph, node, "guider")
    conditioning = (guider if guider is not None and "positive" not in node.inputs else node).inputs
    # BasicGuider has one "conditioning"; DualCFGGuider's first is "cond1".
    positive = next((conditioning[name] for name in ("positive", "conditioning", "cond1") if name in conditioning), None)
    width, height = _latent_size(graph, sampler)
    # The custom samplers keep their settings on the nodes feeding these inputs.
    carriers = [node, *filter(None, (_linked_node(graph, node, name) for name in ("sampler", "sigmas", "noise", "guider")))]
    return build(
        "ComfyUI",
        prompt=_prompt_text(graph, positive),
        negative_prompt=_prompt_text(graph, conditioning.get("negative")),
        seed=_parameter(graph, carriers, ("seed", "noise_seed")),
        sd_model=_model_name(graph, (guider or node).inputs.get("model") or node.inputs.get("model")),
        sampler_name=_parameter(graph, carriers, ("sampler_name",)),
        scheduler=_parameter(graph, carriers, ("scheduler",)),
        steps=_parameter(graph, carriers, ("steps",)),
        cfg_scale=_parameter(graph, carriers, ("cfg",)),
        width=width,
        height=height,
    )


def _nodes(document: Any) -> Graph:
    if not isinstance(document, dict):
        return {}
    return {
        str(node_id): _Node(node["class_type"], node["inputs"]) for node_id, node in document.items()
        if isinstance(node, dict) and isinstance(node.get("class_type"), str) and isinstance(node.get("inputs"), dict)
    }


def _link(value: Any) -> tuple[str, int] | None:
    """``(node id, output slot)`` when an input value is a link."""
    if type(value) is list and len(value) == 2:
        source, slot = value
        if type(slot) is int and (type(source) is str or type(source) is int):
            return str(source), slot
    return None


def _linked_node(graph: Graph, node: _Node, name: str) -> _Node | None:
    link = _link(node.inputs.get(name))
    return graph.get(link[0]) if link else None


def _is_sampler(node: _Node) -> bool:
    if node.class_type in _SAMPLER_CLASSES:
        return True
    inputs = node.inputs
    return ("positive" in inputs or "guider" in inputs) and any(name in inputs for name in _LATENT_INPUTS)


def _upstream(graph: Graph, starts: list[str], follow=None) -> Iterator[str]:
    """Node ids reached breadth-first from ``starts`` against the links, each once.

    ``follow(node, input name)`` decides which inputs are followed (all by default).
    """
    seen = set(starts)
    queue = deque(starts)
    steps = 0
    while queue and steps < _MAX_STEPS:
        node_id = queue.popleft()
        steps += 1
        node = graph.get(node_id)
        if node is None:
            continue
        yield node_id
        for name, source, _slot in node.links:
            if source not in seen and source in graph and (follow is None or follow(node, name)):
                seen.add(source)
                queue.append(source)


def _final_sampler(graph: Graph) -> str | None:
    used = {source for node in graph.values() for _name, source, _slot in node.links}
    sinks = [node_id for node_id in graph if node_id not in used]
    # Save nodes first: a graph can end in previews and other side branches as well.
    sinks.sort(key=lambda node_id: "Save" not in graph[node_id].class_type)
    for node_id in _upstream(graph, sinks):
        if _is_sampler(graph[node_id]):
            return node_id
    # A graph without sinks (a cycle everywhere): the first sampler it lists.
    return next((node_id for node_id, node in graph.items() if _is_sampler(node)), None)


def _first_pass(graph: Graph, sampler: str | None) -> str | None:
    """Follow latents upstream from ``sampler`` to the sampler that started from an empty latent.

    Depth first, first input first: through ``LatentComposite`` that is the canvas
    (``samples_to``) rather than a pasted part.
    """
    if sampler is None:
        return None
    visited = {sampler}
    while True:
        stack = [source for name, source, _slot in reversed(list(graph[sampler].links))
                 if name in _LATENT_INPUTS]
        earlier = None
        while stack and earlier is None and len(visited) < _MAX_STEPS:
            node_id = stack.pop()
            if node_id in visited or node_id not in graph:
                continue
            visited.add(node_id)
            node = graph[node_id]
            if _is_sampler(node):
                earlier = node_id
            else:
                stack.extend(source for name, source, _slot in reversed(list(node.links))
                             if _follows_latent(node, name))
        if earlier is None:
            return sampler
        sampler = earlier


def _follows_latent(node: _Node, name: str) -> bool:
    if _is_sampler(node):
        return name in _LATENT_INPUTS
    return name.startswith(("samples", "latent")) or name in ("pixels", "image", "images")


def _latent_size(graph: Graph, sampler: str) -> tuple[Any, Any]:
    for node_id in _upstream(graph, [sampler], follow=_follows_latent):
        node = graph[node_id]
        if node_id == sampler:
            continue
        if _is_sampler(node):
            break
        width = _value(graph, node.inputs.get("width"), ("width",))
        height = _value(graph, node.inputs.get("height"), ("height",))
        if type(width) is int and type(height) is int and width > 0 and height > 0:
            return width, height
    return None, None


def _parameter(graph: Graph, carriers: list[_Node], names: tuple[str, ...]) -> Any:
    """A sampler setting: on the sampler itself, or on the node feeding its sampler, sigmas,
    noise or guider input (``SamplerCustom``, ``SamplerCustomAdvanced``)."""
    for carrier in carriers:
        for name in names:
            if name in carrier.inputs:
                value = _value(graph, carrier.inputs[name], names)
                if value is not None:
                    return value
    return None


def _value(graph: Graph, value: Any, names: tuple[str, ...]) -> Any:
    """A literal input value, following links to value nodes (primitives, seed and string nodes)."""
    for _hop in range(_MAX_VALUE_HOPS):
        link = _link(value)
        if link is None:
            return value
        node = graph.get(link[0])
        if node is None:
            return None
        inputs = node.inputs
        name = next((name for name in (*names, *_VALUE_NAMES) if name in inputs), None)
        if name is None:
            return None
        value = inputs[name]
    return None


def _model_name(graph: Graph, value: Any) -> str | None:
    link = _link(value)
    visited: set[str] = set()
    while link is not None and link[0] not in visited and len(visited) < _MAX_STEPS:
        visited.add(link[0])
        node = graph.get(link[0])
        if node is None:
            return None
        for name in _MODEL_NAMES:
            if name in node.inputs:
                found = _value(graph, node.inputs[name], (name,))
                if isinstance(found, str) and found:
                    return found
        # LoRA loaders, sampling patches, FreeU...: the model they change comes in as "model"
        # (merges: "model1", "model2", the first of which is followed).
        link = _link(node.inputs.get("model")) or next(
            ((source, slot) for name, source, slot in node.links if name.startswith("model")), None)
    return None


def _prompt_text(graph: Graph, value: Any) -> str | None:
    """The text of every encoder reached from a conditioning input, in graph order."""
    start = _link(value)
    if start is None:
        return None
    texts: list[str] = []
    stack = [start]
    seen: set[tuple[str, int]] = set()
    while stack and len(seen) < _MAX_STEPS:
        node_id, slot = stack.pop()
        if (node_id, slot) in seen:
            continue
        seen.add((node_id, slot))
        node = graph.get(node_id)
        if node is None or node.class_type in _EMPTY_CONDITIONING:
            continue
        found = _encoder_texts(graph, node)
        if found:
            texts.extend(text for text in found if text not in texts)
            continue
        inputs = node.inputs
        # Nodes with a positive (slot 0) and a negative (slot 1) output: ControlNet apply,
        # InstructPix2Pix, inpaint conditioning...
        chosen = _link(inputs.get("positive" if slot == 0 else "negative"))
        if _link(inputs.get("positive")) and _link(inputs.get("negative")) and chosen is not None:
            links = [chosen]
        else:
            links = [(source, source_slot) for name, source, source_slot in node.links if name not in _NOT_CONDITIONING]
        # Reversed onto the stack so that the first input is read first.
        stack.extend(reversed(links))
    return "\n".join(texts) if texts else None


def _encoder_texts(graph: Graph, node: _Node) -> list[str]:
    inputs = node.inputs
    if "clip" not in inputs and "TextEncode" not in node.class_type:
        return []
    texts = []
    for name in _TEXT_INPUTS:
        if name in inputs:
            text = _value(graph, inputs[name], (name,))
            if isinstance(text, str) and text.strip() and text.strip() not in texts:
                texts.append(text.strip())
    return texts
