"""Parameters embedded by each generator, one test per generator and format.

Each payload follows the generator's own writing code or a real image it wrote; the source is
named beside each test. Images are built in ``tmp_path`` with Pillow, as every one of these
generators saves through Pillow.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from sessions.image_parameters import PARAM_KEYS, ImageParameters, read_image_parameters
from tests.conftest import REAL_RESULTS, REAL_SESSION_NAMES

from .image_files import save_png, save_with_exif, user_comment_exif


def params(**values) -> dict:
    return {key: values.get(key) for key in PARAM_KEYS}


# --- AUTOMATIC1111 / Forge ------------------------------------------------------------------

# The infotext as stable-diffusion-webui writes it (processing.py create_infotext: prompt,
# "Negative prompt:", then one line of "Key: value" pairs; infotext_utils.quote() JSON-quotes
# values holding a comma, colon or line break). modules/images.py save_image_with_geninfo puts it
# in a PNG "parameters" text chunk with PngInfo.add_text.
INFOTEXT = (
    "masterpiece, a lighthouse on a cliff at dusk, (dramatic sky:1.2)\n"
    "oil painting\n"
    "Negative prompt: lowres, blurry\n"
    "watermark\n"
    "Steps: 28, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 6.5, Seed: 3141592653, "
    "Size: 512x768, Model hash: 6ce0161689, Model: v1-5-pruned-emaonly, Denoising strength: 0.45, "
    'Lora hashes: "film_grain: 2d1f3a4b5c6d, sketch: 9a8b7c6d5e4f", Version: v1.10.1'
)
INFOTEXT_EXPECTED = ImageParameters(
    generator="AUTOMATIC1111",
    prompt="masterpiece, a lighthouse on a cliff at dusk, (dramatic sky:1.2)\noil painting",
    negative_prompt="lowres, blurry\nwatermark",
    seed=3141592653,
    params=params(sd_model="v1-5-pruned-emaonly", sampler_name="DPM++ 2M", scheduler="Karras", steps=28,
                  cfg_scale=6.5, width=512, height=768),
)


def test_automatic1111_png_parameters_chunk(tmp_path: Path) -> None:
    path = save_png(tmp_path / "00001-3141592653.png", {"parameters": INFOTEXT})

    assert read_image_parameters(path) == INFOTEXT_EXPECTED


def test_automatic1111_png_text_that_is_not_latin1_goes_in_an_itxt_chunk(tmp_path: Path) -> None:
    # Pillow's PngInfo.add_text writes iTXt (UTF-8) for text that Latin-1 cannot hold.
    path = save_png(tmp_path / "cat.png", {"parameters": "一匹の猫, watercolor\nSteps: 20, Sampler: Euler a, CFG scale: 7, "
                                                         "Seed: 5, Size: 512x512, Model: anything-v5"})

    result = read_image_parameters(path)

    assert result.prompt == "一匹の猫, watercolor"
    assert result.seed == 5
    assert result.params["sampler_name"] == "Euler a"


def test_automatic1111_png_compressed_chunk(tmp_path: Path) -> None:
    # sd-parsers' tests/resources/bad_images/text_after_idat.png, an A1111 PNG passed through
    # ImageMagick, carries "parameters" as zTXt; add_text(zip=True) writes the same.
    path = save_png(tmp_path / "z.png", {"parameters": INFOTEXT}, zip=True)

    assert read_image_parameters(path) == INFOTEXT_EXPECTED


def test_automatic1111_quoted_values_are_unquoted(tmp_path: Path) -> None:
    text = ('a cat\nSteps: 20, Sampler: Euler, CFG scale: 7, Seed: 1, Size: 640x448, '
            'Model: "my model, v2: final", Version: v1.9.4')
    path = save_png(tmp_path / "q.png", {"parameters": text})

    result = read_image_parameters(path)

    assert result.params["sd_model"] == "my model, v2: final"
    assert (result.params["width"], result.params["height"]) == (640, 448)


def test_automatic1111_old_infotext_names_the_model_by_its_hash(tmp_path: Path) -> None:
    # The example in infotext_utils.parse_generation_parameters' docstring (autumn 2022).
    text = ("girl with an artist's beret, determined, blue eyes, desert scene\n"
            "Negative prompt: ugly, fat, obese, chubby, (((deformed))), [blurry]\n"
            "Steps: 20, Sampler: Euler a, CFG scale: 7, Seed: 965400086, Size: 512x512, Model hash: 45dee52b")
    path = save_png(tmp_path / "old.png", {"parameters": text})

    assert read_image_parameters(path) == ImageParameters(
        generator="AUTOMATIC1111",
        prompt="girl with an artist's beret, determined, blue eyes, desert scene",
        negative_prompt="ugly, fat, obese, chubby, (((deformed))), [blurry]",
        seed=965400086,
        params=params(sd_model="45dee52b", sampler_name="Euler a", steps=20, cfg_scale=7.0, width=512, height=512),
    )


def test_forge_infotext_reads_as_automatic1111(tmp_path: Path) -> None:
    # Forge keeps AUTOMATIC1111's infotext; its Version names the fork.
    text = ("a red fox in the snow\nSteps: 25, Sampler: Euler, Schedule type: Simple, CFG scale: 1, "
            "Distilled CFG Scale: 3.5, Seed: 77, Size: 896x1152, Model hash: bea01d51bd, Model: flux1-dev-bnb-nf4-v2, "
            "Version: f2.0.1v1.10.1-previous-313-g8a042934")
    path = save_png(tmp_path / "forge.png", {"parameters": text})

    result = read_image_parameters(path)

    assert result.generator == "AUTOMATIC1111"
    assert result.params == params(sd_model="flux1-dev-bnb-nf4-v2", sampler_name="Euler", scheduler="Simple",
                                   steps=25, cfg_scale=1.0, width=896, height=1152)


@pytest.mark.parametrize("image_format", ["JPEG", "WEBP"])
def test_automatic1111_jpeg_and_webp_user_comment(tmp_path: Path, image_format: str) -> None:
    # modules/images.py: piexif.dump({"Exif": {UserComment: piexif.helper.UserComment.dump(geninfo,
    # encoding="unicode")}}): the 8-byte code "UNICODE\0" then UTF-16 big-endian, in the Exif IFD.
    # sd-parsers' automatic1111_cropped.jpg is laid out the same way.
    comment = b"UNICODE\x00" + INFOTEXT.encode("utf-16-be")
    path = save_with_exif(tmp_path / f"00002.{image_format.lower()}", user_comment_exif(comment), format=image_format)

    assert read_image_parameters(path) == INFOTEXT_EXPECTED


@pytest.mark.parametrize("comment", [
    pytest.param(b"UNICODE\x00" + INFOTEXT.encode("utf-16-le"), id="unicode-little-endian"),
    pytest.param(b"UNICODE\x00" + INFOTEXT.encode("utf-16"), id="unicode-with-byte-order-mark"),
    pytest.param(b"ASCII\x00\x00\x00" + INFOTEXT.encode("ascii"), id="ascii"),
    pytest.param(b"\x00" * 8 + INFOTEXT.encode("utf-8"), id="undefined"),
])
def test_user_comment_character_codes(tmp_path: Path, comment: bytes) -> None:
    # EXIF 2.3 §4.6.5, UserComment: an 8-byte character code (ASCII, JIS, UNICODE, undefined)
    # before the text; UNICODE's byte order is not fixed by it, and tools differ.
    path = save_with_exif(tmp_path / "c.jpg", user_comment_exif(comment), format="JPEG")

    assert read_image_parameters(path) == INFOTEXT_EXPECTED


def test_real_cli_images_read_as_automatic1111() -> None:
    # The sdgen CLI writes A1111's "parameters" chunk; the manifest beside them says what is in it.
    checked = 0
    for name in REAL_SESSION_NAMES:
        manifest = json.loads((REAL_RESULTS / name / "manifest.json").read_text(encoding="utf-8"))
        for entry in manifest["images"]:
            path = REAL_RESULTS / name / entry["filename"]
            if not path.exists():
                continue
            result = read_image_parameters(path)
            assert result.generator == "AUTOMATIC1111", path
            assert result.prompt == entry["prompt"], path
            assert result.negative_prompt == entry["negative_prompt"], path
            assert result.seed == entry["seed"], path
            assert result.params["sd_model"] and result.params["steps"], path
            checked += 1
    assert checked >= 10


# --- ComfyUI --------------------------------------------------------------------------------

# ComfyUI's default graph (web: defaultGraph), in the API form that nodes.py SaveImage writes as
# the "prompt" chunk: metadata.add_text("prompt", json.dumps(prompt)); the editor's graph goes in
# "workflow" (extra_pnginfo). Node inputs as declared in nodes.py.
DEFAULT_GRAPH = {
    "3": {"inputs": {"seed": 156680208700286, "steps": 20, "cfg": 8, "sampler_name": "euler", "scheduler": "normal",
                     "denoise": 1, "model": ["4", 0], "positive": ["6", 0], "negative": ["7", 0],
                     "latent_image": ["5", 0]}, "class_type": "KSampler"},
    "4": {"inputs": {"ckpt_name": "v1-5-pruned-emaonly.safetensors"}, "class_type": "CheckpointLoaderSimple"},
    "5": {"inputs": {"width": 512, "height": 512, "batch_size": 1}, "class_type": "EmptyLatentImage"},
    "6": {"inputs": {"text": "beautiful scenery nature glass bottle landscape, , purple galaxy bottle,",
                     "clip": ["4", 1]}, "class_type": "CLIPTextEncode"},
    "7": {"inputs": {"text": "text, watermark", "clip": ["4", 1]}, "class_type": "CLIPTextEncode"},
    "8": {"inputs": {"samples": ["3", 0], "vae": ["4", 2]}, "class_type": "VAEDecode"},
    "9": {"inputs": {"filename_prefix": "ComfyUI", "images": ["8", 0]}, "class_type": "SaveImage"},
}
WORKFLOW = {"last_node_id": 9, "last_link_id": 9, "nodes": [
    {"id": 3, "type": "KSampler", "widgets_values": [156680208700286, "randomize", 20, 8, "euler", "normal", 1]},
    {"id": 4, "type": "CheckpointLoaderSimple", "widgets_values": ["v1-5-pruned-emaonly.safetensors"]},
], "links": [[1, 4, 0, 3, 0, "MODEL"], [4, 6, 0, 3, 1, "CONDITIONING"]], "groups": [], "config": {},
    "extra": {}, "version": 0.4}
DEFAULT_EXPECTED = ImageParameters(
    generator="ComfyUI",
    prompt="beautiful scenery nature glass bottle landscape, , purple galaxy bottle,",
    negative_prompt="text, watermark",
    seed=156680208700286,
    params=params(sd_model="v1-5-pruned-emaonly.safetensors", sampler_name="euler", scheduler="normal", steps=20,
                  cfg_scale=8.0, width=512, height=512),
)


def test_comfyui_default_graph(tmp_path: Path) -> None:
    path = save_png(tmp_path / "ComfyUI_00001_.png",
                    {"prompt": json.dumps(DEFAULT_GRAPH), "workflow": json.dumps(WORKFLOW)})

    assert read_image_parameters(path) == DEFAULT_EXPECTED


def test_comfyui_image_saved_through_the_api_has_no_workflow(tmp_path: Path) -> None:
    # Images queued through /prompt without extra_pnginfo carry the "prompt" chunk alone.
    path = save_png(tmp_path / "api.png", {"prompt": json.dumps(DEFAULT_GRAPH)})

    assert read_image_parameters(path) == DEFAULT_EXPECTED


def test_comfyui_sdxl_text_encoders_loras_and_combined_conditioning(tmp_path: Path) -> None:
    # comfy_extras/nodes_clip_sdxl.py CLIPTextEncodeSDXL (text_g, text_l), nodes.py LoraLoader,
    # KSamplerAdvanced (noise_seed), ConditioningCombine and ConditioningConcat.
    graph = {
        "1": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "sd_xl_base_1.0.safetensors"}},
        "2": {"class_type": "LoraLoader", "inputs": {"lora_name": "pixel-art-xl.safetensors", "strength_model": 0.8,
                                                     "strength_clip": 0.8, "model": ["1", 0], "clip": ["1", 1]}},
        "3": {"class_type": "LoraLoader", "inputs": {"lora_name": "detail.safetensors", "strength_model": 0.5,
                                                     "strength_clip": 0.5, "model": ["2", 0], "clip": ["2", 1]}},
        "4": {"class_type": "CLIPTextEncodeSDXL", "inputs": {
            "width": 4096, "height": 4096, "crop_w": 0, "crop_h": 0, "target_width": 4096, "target_height": 4096,
            "text_g": "a castle on a floating island", "text_l": "a castle on a floating island", "clip": ["3", 1]}},
        "5": {"class_type": "CLIPTextEncodeSDXL", "inputs": {
            "width": 4096, "height": 4096, "crop_w": 0, "crop_h": 0, "target_width": 4096, "target_height": 4096,
            "text_g": "pixel art", "text_l": "16-bit palette", "clip": ["3", 1]}},
        "6": {"class_type": "ConditioningCombine", "inputs": {"conditioning_1": ["4", 0], "conditioning_2": ["5", 0]}},
        "7": {"class_type": "CLIPTextEncode", "inputs": {"text": "blurry", "clip": ["3", 1]}},
        "8": {"class_type": "CLIPTextEncode", "inputs": {"text": "photo", "clip": ["3", 1]}},
        "9": {"class_type": "ConditioningConcat", "inputs": {"conditioning_to": ["7", 0], "conditioning_from": ["8", 0]}},
        "10": {"class_type": "EmptyLatentImage", "inputs": {"width": 1024, "height": 1024, "batch_size": 1}},
        "11": {"class_type": "KSamplerAdvanced", "inputs": {
            "add_noise": "enable", "noise_seed": 42, "steps": 30, "cfg": 7.5, "sampler_name": "dpmpp_2m",
            "scheduler": "karras", "start_at_step": 0, "end_at_step": 10000, "return_with_leftover_noise": "disable",
            "model": ["3", 0], "positive": ["6", 0], "negative": ["9", 0], "latent_image": ["10", 0]}},
        "12": {"class_type": "VAEDecode", "inputs": {"samples": ["11", 0], "vae": ["1", 2]}},
        "13": {"class_type": "SaveImage", "inputs": {"filename_prefix": "sdxl", "images": ["12", 0]}},
    }
    path = save_png(tmp_path / "sdxl.png", {"prompt": json.dumps(graph)})

    assert read_image_parameters(path) == ImageParameters(
        generator="ComfyUI",
        prompt="a castle on a floating island\npixel art\n16-bit palette",
        negative_prompt="blurry\nphoto",
        seed=42,
        params=params(sd_model="sd_xl_base_1.0.safetensors", sampler_name="dpmpp_2m", scheduler="karras", steps=30,
                      cfg_scale=7.5, width=1024, height=1024),
    )


def test_comfyui_hires_fix_reports_the_first_pass(tmp_path: Path) -> None:
    # The "2 pass txt2img" example (comfyanonymous.github.io/ComfyUI_examples/2_pass_txt2img): a
    # second KSampler on the upscaled latent, as sd-parsers' night_evening_day_morning image has.
    graph = dict(DEFAULT_GRAPH)
    graph["10"] = {"class_type": "LatentUpscale", "inputs": {"upscale_method": "nearest-exact", "width": 1024,
                                                            "height": 1024, "crop": "disabled", "samples": ["3", 0]}}
    graph["11"] = {"class_type": "KSampler", "inputs": {
        "seed": 999, "steps": 12, "cfg": 5, "sampler_name": "dpmpp_2m", "scheduler": "simple", "denoise": 0.5,
        "model": ["4", 0], "positive": ["6", 0], "negative": ["7", 0], "latent_image": ["10", 0]}}
    graph["8"] = {"inputs": {"samples": ["11", 0], "vae": ["4", 2]}, "class_type": "VAEDecode"}
    path = save_png(tmp_path / "hires.png", {"prompt": json.dumps(graph)})

    assert read_image_parameters(path) == DEFAULT_EXPECTED


CFG_GUIDER = {"class_type": "CFGGuider", "inputs": {"cfg": 1.0, "model": ["3", 0], "positive": ["5", 0],
                                                   "negative": ["6", 0]}}
BASIC_GUIDER = {"class_type": "BasicGuider", "inputs": {"model": ["3", 0], "conditioning": ["5", 0]}}
DUAL_CFG_GUIDER = {"class_type": "DualCFGGuider", "inputs": {"cfg_conds": 3.0, "cfg_cond2_negative": 1.5, "model": ["3", 0],
                                                             "cond1": ["5", 0], "cond2": ["5", 0], "negative": ["6", 0]}}


@pytest.mark.parametrize(("guider", "cfg_scale"), [(CFG_GUIDER, 1.0), (BASIC_GUIDER, None), (DUAL_CFG_GUIDER, None)],
                         ids=["CFGGuider", "BasicGuider", "DualCFGGuider"])
def test_comfyui_flux_custom_sampler(tmp_path: Path, guider: dict, cfg_scale: float | None) -> None:
    # comfy_extras/nodes_custom_sampler.py (SamplerCustomAdvanced, RandomNoise, KSamplerSelect,
    # BasicScheduler, CFGGuider, BasicGuider), nodes_flux.py (FluxGuidance), nodes_model_advanced.py
    # (ModelSamplingFlux), nodes_sd3.py (EmptySD3LatentImage), nodes.py UNETLoader and
    # ConditioningZeroOut, the usual empty negative of Flux.
    graph = {
        "1": {"class_type": "UNETLoader", "inputs": {"unet_name": "flux1-dev.safetensors", "weight_dtype": "default"}},
        "2": {"class_type": "DualCLIPLoader", "inputs": {"clip_name1": "t5xxl_fp16.safetensors",
                                                         "clip_name2": "clip_l.safetensors", "type": "flux"}},
        "3": {"class_type": "ModelSamplingFlux", "inputs": {"max_shift": 1.15, "base_shift": 0.5, "width": 1024,
                                                            "height": 1024, "model": ["1", 0]}},
        "4": {"class_type": "CLIPTextEncode", "inputs": {"text": "a neon sign that reads OPEN", "clip": ["2", 0]}},
        "5": {"class_type": "FluxGuidance", "inputs": {"guidance": 3.5, "conditioning": ["4", 0]}},
        "6": {"class_type": "ConditioningZeroOut", "inputs": {"conditioning": ["4", 0]}},
        "7": guider,
        "8": {"class_type": "RandomNoise", "inputs": {"noise_seed": 1234567890123}},
        "9": {"class_type": "KSamplerSelect", "inputs": {"sampler_name": "euler"}},
        "10": {"class_type": "BasicScheduler", "inputs": {"scheduler": "beta", "steps": 28, "denoise": 1.0,
                                                          "model": ["3", 0]}},
        "11": {"class_type": "EmptySD3LatentImage", "inputs": {"width": 832, "height": 1216, "batch_size": 1}},
        "12": {"class_type": "SamplerCustomAdvanced", "inputs": {"noise": ["8", 0], "guider": ["7", 0],
                                                                 "sampler": ["9", 0], "sigmas": ["10", 0],
                                                                 "latent_image": ["11", 0]}},
        "13": {"class_type": "VAEDecode", "inputs": {"samples": ["12", 0], "vae": ["14", 0]}},
        "14": {"class_type": "VAELoader", "inputs": {"vae_name": "ae.safetensors"}},
        "15": {"class_type": "SaveImage", "inputs": {"filename_prefix": "flux", "images": ["13", 0]}},
    }
    path = save_png(tmp_path / "flux.png", {"prompt": json.dumps(graph)})

    assert read_image_parameters(path) == ImageParameters(
        generator="ComfyUI",
        prompt="a neon sign that reads OPEN",
        negative_prompt=None,
        seed=1234567890123,
        params=params(sd_model="flux1-dev.safetensors", sampler_name="euler", scheduler="beta", steps=28,
                      cfg_scale=cfg_scale, width=832, height=1216),
    )


def test_comfyui_sampler_custom_controlnet_and_value_nodes(tmp_path: Path) -> None:
    # SamplerCustom (nodes_custom_sampler.py) behind ControlNetApplyAdvanced (nodes.py), whose two
    # outputs are the positive (slot 0) and the negative (slot 1); the prompt comes from a string
    # node and the seed from a seed node, as custom node packs wire them.
    graph = {
        "1": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "dreamshaper_8.safetensors"}},
        "2": {"class_type": "PrimitiveStringMultiline", "inputs": {"value": "a cozy cabin in the woods"}},
        "3": {"class_type": "CLIPTextEncode", "inputs": {"text": ["2", 0], "clip": ["1", 1]}},
        "4": {"class_type": "CLIPTextEncode", "inputs": {"text": "lowres", "clip": ["1", 1]}},
        "5": {"class_type": "ControlNetLoader", "inputs": {"control_net_name": "control_v11p_sd15_canny.pth"}},
        "6": {"class_type": "LoadImage", "inputs": {"image": "edges.png"}},
        "7": {"class_type": "ControlNetApplyAdvanced", "inputs": {
            "strength": 0.9, "start_percent": 0, "end_percent": 1, "positive": ["3", 0], "negative": ["4", 0],
            "control_net": ["5", 0], "image": ["6", 0]}},
        "8": {"class_type": "Seed (rgthree)", "inputs": {"seed": 8675309}},
        "9": {"class_type": "KSamplerSelect", "inputs": {"sampler_name": "dpmpp_2m_sde"}},
        "10": {"class_type": "KarrasScheduler", "inputs": {"steps": 24, "sigma_max": 14.6, "sigma_min": 0.03,
                                                           "rho": 7}},
        "11": {"class_type": "EmptyLatentImage", "inputs": {"width": 768, "height": 512, "batch_size": 1}},
        "12": {"class_type": "SamplerCustom", "inputs": {
            "add_noise": True, "noise_seed": ["8", 0], "cfg": 6, "model": ["1", 0], "positive": ["7", 0],
            "negative": ["7", 1], "sampler": ["9", 0], "sigmas": ["10", 0], "latent_image": ["11", 0]}},
        "13": {"class_type": "VAEDecode", "inputs": {"samples": ["12", 0], "vae": ["1", 2]}},
        "14": {"class_type": "SaveImage", "inputs": {"filename_prefix": "cn", "images": ["13", 0]}},
    }
    path = save_png(tmp_path / "cn.png", {"prompt": json.dumps(graph)})

    assert read_image_parameters(path) == ImageParameters(
        generator="ComfyUI",
        prompt="a cozy cabin in the woods",
        negative_prompt="lowres",
        seed=8675309,
        params=params(sd_model="dreamshaper_8.safetensors", sampler_name="dpmpp_2m_sde", steps=24, cfg_scale=6.0,
                      width=768, height=512),
    )


def test_comfyui_webp_keeps_the_graph_in_exif(tmp_path: Path) -> None:
    # comfy_extras/nodes_images.py SaveAnimatedWEBP: metadata[0x0110] = "prompt:" + json.dumps(prompt),
    # metadata[0x010F] = "workflow:" + json.dumps(workflow).
    exif = Image.Exif()
    exif[0x0110] = "prompt:" + json.dumps(DEFAULT_GRAPH)
    exif[0x010F] = "workflow:" + json.dumps(WORKFLOW)
    path = save_with_exif(tmp_path / "ComfyUI_00001_.webp", exif, format="WEBP")

    assert read_image_parameters(path) == DEFAULT_EXPECTED


def test_comfyui_infotext_beside_the_graph_fills_what_the_graph_hides(tmp_path: Path) -> None:
    # Custom save nodes (e.g. "Save Image w/Metadata") add an A1111 "parameters" chunk to the
    # graph; a sampler from an unknown pack leaves the graph without a prompt.
    graph = {"1": {"class_type": "MysterySampler", "inputs": {"model": ["2", 0]}},
             "2": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "x.safetensors"}},
             "3": {"class_type": "SaveImage", "inputs": {"images": ["1", 0]}}}
    path = save_png(tmp_path / "both.png", {"parameters": INFOTEXT, "prompt": json.dumps(graph)})

    result = read_image_parameters(path)

    assert result.generator == "ComfyUI"
    assert result.prompt == INFOTEXT_EXPECTED.prompt
    assert result.seed == INFOTEXT_EXPECTED.seed


def test_comfyui_workflow_alone_still_names_the_generator(tmp_path: Path) -> None:
    path = save_png(tmp_path / "wf.png", {"workflow": json.dumps(WORKFLOW)})

    assert read_image_parameters(path) == ImageParameters("ComfyUI", None, None, None, params())
