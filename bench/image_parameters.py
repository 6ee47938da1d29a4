#!/usr/bin/env python
"""Reading embedded generation parameters: files per second, per generator.

    python bench/image_parameters.py               # 500 PNGs per kind
    python bench/image_parameters.py --images 2000 --repeat 5

Writes N noisy 512x768 RGB PNGs per kind into a temporary folder (about 0.84 MB each, the image
data in 64 KiB IDAT chunks as Pillow writes it), each with the text chunks its generator writes
(varying prompts and seeds): AUTOMATIC1111 ``parameters``; ComfyUI ``prompt`` (an SDXL graph with
LoRAs) and ``workflow``; InvokeAI ``invokeai_metadata``, ``invokeai_graph`` and
``invokeai_workflow``; NovelAI's five chunks; Fooocus ``parameters`` JSON and ``fooocus_scheme``;
and PNGs with no parameters at all (every chunk header is walked). Then it times
``read_image_parameters`` over each kind's files, file cache warm (one untimed pass first), and
reports the best of ``--repeat`` passes. The folder is removed at the end.
"""

from __future__ import annotations

import argparse
import io
import json
import random
import shutil
import struct
import sys
import tempfile
import time
import zlib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sessions.image_parameters import ImageParameters, read_image_parameters  # noqa: E402

SIZE = (512, 768)
WORDS = ("portrait", "landscape", "castle", "forest", "neon", "city", "girl", "robot", "sunset", "ocean",
         "watercolor", "oil painting", "cinematic", "masterpiece", "detailed", "dramatic lighting", "fog")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=500, help="PNGs per kind (default 500)")
    parser.add_argument("--repeat", type=int, default=3, help="timed passes per kind; the best is shown")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="sdgen-bench-params-"))
    try:
        bodies = [_image_data(seed) for seed in range(4)]
        rng = random.Random(7)
        kinds = {}
        for kind, texts in KINDS.items():
            paths = []
            for number in range(args.images):
                path = folder / f"{kind}-{number:05}.png"
                path.write_bytes(_png(texts(rng, number), bodies[number % len(bodies)]))
                paths.append(path)
            kinds[kind] = paths
        megabytes = sum(path.stat().st_size for paths in kinds.values() for path in paths) / 1e6
        print(f"{sum(map(len, kinds.values()))} PNGs of {SIZE[0]}x{SIZE[1]}, {megabytes:,.0f} MB, in {folder}")
        print(f"{'kind':<14} {'files/s':>10} {'µs/file':>9}  generator read")
        everything = []
        for kind, paths in kinds.items():
            found = _check(kind, paths)
            rate = _best_rate(paths, args.repeat)
            print(f"{kind:<14} {rate:>10,.0f} {1e6 / rate:>9.1f}  {found}")
            everything.extend(paths)
        random.Random(1).shuffle(everything)
        rate = _best_rate(everything, args.repeat)
        print(f"{'all, shuffled':<14} {rate:>10,.0f} {1e6 / rate:>9.1f}")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _best_rate(paths: list[Path], repeat: int) -> float:
    names = [str(path) for path in paths]
    for name in names:  # warm the file cache and the interpreter
        read_image_parameters(name)
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        for name in names:
            read_image_parameters(name)
        best = min(best, time.perf_counter() - started)
    return len(names) / best


def _check(kind: str, paths: list[Path]) -> str:
    result = read_image_parameters(paths[0])
    expected = None if kind == "no metadata" else kind
    generator = result.generator if isinstance(result, ImageParameters) else None
    if generator != expected or (expected and (result.prompt is None or result.seed is None)):
        raise SystemExit(f"{kind}: read {result!r}")
    return str(generator)


def _image_data(seed: int) -> list[bytes]:
    """The IDAT chunks of a noisy picture with some structure, as Pillow writes them."""
    from PIL import Image

    rng = random.Random(seed)
    base = Image.linear_gradient("L").resize(SIZE).rotate(rng.randrange(360))
    colour = Image.merge("RGB", [base.point(_scaled(rng.random())) for _ in range(3)])
    grain = Image.merge("RGB", [Image.effect_noise(SIZE, 24) for _ in range(3)])
    buffer = io.BytesIO()
    Image.blend(colour, grain, 0.35).save(buffer, format="PNG")
    data = buffer.getvalue()
    chunks, position = [], 8
    while position < len(data):
        length, kind = struct.unpack(">I4s", data[position:position + 8])
        if kind == b"IDAT":
            chunks.append(data[position:position + 12 + length])
        position += 12 + length
    return chunks


def _scaled(factor: float):
    return lambda value: int(value * factor)


def _png(texts: dict[str, str], idat: list[bytes]) -> bytes:
    ihdr = _chunk(b"IHDR", struct.pack(">IIBBBBB", SIZE[0], SIZE[1], 8, 2, 0, 0, 0))
    text = b"".join(_text_chunk(key, value) for key, value in texts.items())
    return b"\x89PNG\r\n\x1a\n" + ihdr + text + b"".join(idat) + _chunk(b"IEND", b"")


def _text_chunk(key: str, value: str) -> bytes:
    # As PngInfo.add_text: tEXt when Latin-1 holds the text, iTXt (UTF-8) otherwise.
    try:
        return _chunk(b"tEXt", key.encode("latin-1") + b"\x00" + value.encode("latin-1"))
    except UnicodeEncodeError:
        return _chunk(b"iTXt", key.encode("latin-1") + b"\x00\x00\x00\x00\x00" + value.encode("utf-8"))


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _prompt(rng: random.Random) -> str:
    return ", ".join(rng.sample(WORDS, 8))


def _a1111(rng: random.Random, number: int) -> dict[str, str]:
    return {"parameters": (
        f"{_prompt(rng)}, <lora:add_detail:0.6>\nNegative prompt: lowres, bad anatomy, bad hands, text, error, "
        f"missing fingers, worst quality, low quality, jpeg artifacts, watermark\nSteps: 28, Sampler: DPM++ 2M, "
        f"Schedule type: Karras, CFG scale: 7, Seed: {1000 + number}, Size: 512x768, Model hash: 6ce0161689, "
        f"Model: v1-5-pruned-emaonly, VAE hash: 735e4c3a44, VAE: vae-ft-mse-840000-ema-pruned.safetensors, "
        f'Denoising strength: 0.4, Clip skip: 2, Lora hashes: "add_detail: 7c6bad76eb54", '
        f"Hires upscale: 1.5, Hires steps: 12, Hires upscaler: R-ESRGAN 4x+, Version: v1.10.1")}


def _comfy_graph(rng: random.Random, number: int) -> dict:
    text = {"clip": ["11", 1], "width": 1024, "height": 1024, "crop_w": 0, "crop_h": 0, "target_width": 1024,
            "target_height": 1024}
    return {
        "4": {"inputs": {"ckpt_name": "sd_xl_base_1.0.safetensors"}, "class_type": "CheckpointLoaderSimple",
              "_meta": {"title": "Load Checkpoint"}},
        "10": {"inputs": {"lora_name": "pixel-art-xl.safetensors", "strength_model": 0.8, "strength_clip": 0.8,
                          "model": ["4", 0], "clip": ["4", 1]}, "class_type": "LoraLoader"},
        "11": {"inputs": {"lora_name": "add-detail-xl.safetensors", "strength_model": 0.5, "strength_clip": 0.5,
                          "model": ["10", 0], "clip": ["10", 1]}, "class_type": "LoraLoader"},
        "6": {"inputs": {**text, "text_g": _prompt(rng), "text_l": _prompt(rng)}, "class_type": "CLIPTextEncodeSDXL"},
        "7": {"inputs": {**text, "text_g": "blurry, lowres, watermark", "text_l": "blurry"},
              "class_type": "CLIPTextEncodeSDXL"},
        "5": {"inputs": {"width": 512, "height": 768, "batch_size": 1}, "class_type": "EmptyLatentImage"},
        "3": {"inputs": {"seed": 156680208700286 + number, "steps": 25, "cfg": 7, "sampler_name": "dpmpp_2m",
                         "scheduler": "karras", "denoise": 1, "model": ["11", 0], "positive": ["6", 0],
                         "negative": ["7", 0], "latent_image": ["5", 0]}, "class_type": "KSampler"},
        "8": {"inputs": {"samples": ["3", 0], "vae": ["4", 2]}, "class_type": "VAEDecode"},
        "9": {"inputs": {"filename_prefix": "ComfyUI", "images": ["8", 0]}, "class_type": "SaveImage"},
    }


def _comfyui(rng: random.Random, number: int) -> dict[str, str]:
    graph = _comfy_graph(rng, number)
    nodes = [{"id": int(node_id), "type": node["class_type"], "pos": [100 * index, 80 * index],
              "size": {"0": 315, "1": 262}, "flags": {}, "order": index, "mode": 0,
              "inputs": [{"name": name, "type": "MODEL", "link": index} for name, value in node["inputs"].items()
                         if isinstance(value, list)],
              "outputs": [{"name": "OUT", "type": "LATENT", "links": [index + 1], "slot_index": 0}],
              "properties": {"Node name for S&R": node["class_type"]},
              "widgets_values": [value for value in node["inputs"].values() if not isinstance(value, list)]}
             for index, (node_id, node) in enumerate(graph.items())]
    links = [[index, index, 0, index + 1, 0, "LATENT"] for index in range(len(nodes) * 2)]
    workflow = {"last_node_id": 11, "last_link_id": len(links), "nodes": nodes, "links": links, "groups": [],
                "config": {}, "extra": {"ds": {"scale": 1, "offset": [0, 0]}}, "version": 0.4}
    return {"prompt": json.dumps(graph), "workflow": json.dumps(workflow)}


def _invokeai(rng: random.Random, number: int) -> dict[str, str]:
    metadata = {"generation_mode": "sdxl_txt2img", "positive_prompt": _prompt(rng), "negative_prompt": "blurry",
                "width": 512, "height": 768, "seed": 591741300 + number, "rand_device": "cpu", "cfg_scale": 6.5,
                "cfg_rescale_multiplier": 0, "steps": 30, "scheduler": "dpmpp_2m_k",
                "model": {"key": "4f8c5a2e", "hash": "blake3:9d0e", "name": "Juggernaut XL v9", "base": "sdxl",
                          "type": "main"}, "positive_style_prompt": "", "negative_style_prompt": "",
                "app_version": "5.4.2"}
    graph = {"id": "sdxl_graph", "nodes": {f"node_{index}": {"id": f"node_{index}", "type": "noise",
                                                             "seed": index, "width": 512, "height": 768,
                                                             "use_cache": True} for index in range(20)},
             "edges": [{"source": {"node_id": f"node_{index}", "field": "noise"},
                        "destination": {"node_id": f"node_{index + 1}", "field": "noise"}} for index in range(19)]}
    return {"invokeai_metadata": json.dumps(metadata), "invokeai_graph": json.dumps(graph),
            "invokeai_workflow": json.dumps({"name": "", "nodes": list(graph["nodes"].values()), "edges": []})}


def _novelai(rng: random.Random, number: int) -> dict[str, str]:
    prompt = _prompt(rng)
    comment = {"prompt": prompt, "steps": 28, "height": 768, "width": 512, "scale": 5.0,
               "uc": "lowres, artistic error, bad anatomy", "seed": 917009594 + number, "sampler": "k_euler_ancestral",
               "noise_schedule": "karras", "cfg_rescale": 0, "request_type": "PromptGenerateRequest",
               "v4_prompt": {"caption": {"base_caption": prompt, "char_captions": []}, "use_coords": False,
                             "use_order": True},
               "v4_negative_prompt": {"caption": {"base_caption": "lowres, artistic error", "char_captions": []}}}
    return {"Title": "NovelAI generated image", "Description": prompt, "Software": "NovelAI",
            "Source": "NovelAI Diffusion V4.5 4BDE2A90", "Comment": json.dumps(comment)}


def _fooocus(rng: random.Random, number: int) -> dict[str, str]:
    prompt = _prompt(rng)
    document = {"adm_guidance": "(1.5, 0.8, 0.3)", "base_model": "juggernautXL_v8Rundiffusion",
                "base_model_hash": "aeb7e9e689", "clip_skip": 2, "full_negative_prompt": ["(worst quality:1.4)"],
                "full_prompt": [f"cinematic still {prompt} . emotional, harmonious, vignette"],
                "guidance_scale": 4, "loras": [], "metadata_scheme": "fooocus", "negative_prompt": "",
                "performance": "Speed", "prompt": prompt, "prompt_expansion": f"{prompt}, deep focus, intricate",
                "refiner_model": "None", "refiner_switch": 0.5, "resolution": "(512, 768)",
                "sampler": "dpmpp_2m_sde_gpu", "scheduler": "karras", "seed": str(6952411511246973023 + number),
                "sharpness": 2, "steps": 30, "styles": "['Fooocus V2', 'Fooocus Enhance', 'Fooocus Sharp']",
                "vae": "Default (model)", "version": "Fooocus v2.5.5"}
    return {"parameters": json.dumps(dict(sorted(document.items()))), "fooocus_scheme": "fooocus"}


KINDS = {
    "AUTOMATIC1111": _a1111,
    "ComfyUI": _comfyui,
    "InvokeAI": _invokeai,
    "NovelAI": _novelai,
    "Fooocus": _fooocus,
    "no metadata": lambda rng, number: {},
}


if __name__ == "__main__":
    main()
