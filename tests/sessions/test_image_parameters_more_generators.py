"""Parameters embedded by InvokeAI, NovelAI and Fooocus, one test per format.

The payloads follow each generator's writing code or real images it wrote (named beside each
test); AUTOMATIC1111 and ComfyUI are in ``test_image_parameters.py``.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from PIL import Image

from sessions.image_parameters import PARAM_KEYS, ImageParameters, read_image_parameters

from .image_files import save_png, save_with_exif


def params(**values) -> dict:
    return {key: values.get(key) for key in PARAM_KEYS}


# --- InvokeAI -------------------------------------------------------------------------------

def test_invokeai_core_metadata(tmp_path: Path) -> None:
    # invokeai/app/services/image_files/image_files_disk.py: pnginfo.add_text("invokeai_metadata",
    # metadata.model_dump_json()), beside "invokeai_workflow"/"invokeai_graph"; the fields of
    # invocations/metadata.py CoreMetadataInvocation as written by 5.x.
    metadata = {
        "generation_mode": "sdxl_txt2img", "positive_prompt": "a robot reading a book, cinematic",
        "negative_prompt": "blurry, lowres", "width": 1024, "height": 1024, "seed": 591741300,
        "rand_device": "cpu", "cfg_scale": 6.5, "cfg_rescale_multiplier": 0, "steps": 30, "scheduler": "dpmpp_2m_k",
        "model": {"key": "4f8c5a2e", "hash": "blake3:9d0e", "name": "Juggernaut XL v9", "base": "sdxl",
                  "type": "main"},
        "positive_style_prompt": "a robot reading a book", "negative_style_prompt": "", "app_version": "5.4.2",
    }
    path = save_png(tmp_path / "5f2e.png", {"invokeai_metadata": json.dumps(metadata),
                                            "invokeai_graph": json.dumps({"id": "sdxl_graph", "nodes": {}})})

    assert read_image_parameters(path) == ImageParameters(
        generator="InvokeAI",
        prompt="a robot reading a book, cinematic",
        negative_prompt="blurry, lowres",
        seed=591741300,
        params=params(sd_model="Juggernaut XL v9", sampler_name="dpmpp_2m_k", steps=30, cfg_scale=6.5, width=1024,
                      height=1024),
    )


def test_invokeai_3_core_metadata_names_the_model_model_name(tmp_path: Path) -> None:
    # sd-parsers' tests/resources/parsers/InvokeAI/invokeai_imeta1.png, written by InvokeAI 3.
    metadata = ('{"generation_mode":"sdxl_txt2img","positive_prompt":"digital artwork, oil painting. painterly '
                'brushstrokes, holidays,","negative_prompt":"grainy+, photo, oversaturated","width":1024,'
                '"height":1024,"seed":3293022630,"rand_device":"cpu","cfg_scale":8.0,"cfg_rescale_multiplier":0.0,'
                '"steps":35,"scheduler":"euler","model":{"model_name":"juggernautXL","base_model":"sdxl",'
                '"model_type":"main"},"vae":{"model_name":"VAEFix","base_model":"sdxl"}}')
    path = save_png(tmp_path / "imeta.png", {"invokeai_metadata": metadata})

    result = read_image_parameters(path)

    assert result.params["sd_model"] == "juggernautXL"
    assert result.seed == 3293022630


DREAM = ('"professional photo of a woman, city background, film grain [rendering, glowing eyes]" '
         '-s 50 -S 2980747362 -W 512 -H 768 -C 5 -A k_lms -G 0.9 -cf 0.75 -U 4 0.95')
DREAM_EXPECTED = ImageParameters(
    generator="InvokeAI",
    prompt="professional photo of a woman, city background, film grain",
    negative_prompt="rendering, glowing eyes",
    seed=2980747362,
    params=params(sampler_name="k_lms", steps=50, cfg_scale=5.0, width=512, height=768),
)


def test_invokeai_2_sd_metadata(tmp_path: Path) -> None:
    # ldm/invoke/pngwriter.py (InvokeAI 2.x) save_image_and_prompt_to_png: "Dream" and
    # json.dumps(metadata) as "sd-metadata"; content as in sd-parsers' invokeai_sdmeta1.png.
    metadata = {
        "model": "stable diffusion", "model_weights": "deliberateForInvoke_v08", "model_hash": "56d1442a0f",
        "app_id": "invoke-ai/InvokeAI", "app_version": "2.3.0",
        "image": {"prompt": [{"prompt": "professional photo of a woman, city background, film grain "
                                        "[rendering, glowing eyes]", "weight": 1.0}],
                  "steps": 50, "cfg_scale": 5, "threshold": 0, "perlin": 0, "height": 768, "width": 512,
                  "seed": 2980747362, "seamless": False, "hires_fix": False, "type": "txt2img", "sampler": "k_lms",
                  "variations": []},
    }
    path = save_png(tmp_path / "000001.2980747362.png", {"Dream": DREAM, "sd-metadata": json.dumps(metadata)})

    result = read_image_parameters(path)

    assert result == replace(DREAM_EXPECTED, params={**DREAM_EXPECTED.params, "sd_model": "deliberateForInvoke_v08"})


@pytest.mark.parametrize("dream", [
    pytest.param(DREAM, id="spaced-switches"),
    # PromptFormatter.normalize_prompt in the same file writes each value against its switch.
    pytest.param('"professional photo of a woman, city background, film grain [rendering, glowing eyes]" '
                 "-s50 -W512 -H768 -C5.0 -Ak_lms -S2980747362", id="attached-switches"),
])
def test_invokeai_dream_command(tmp_path: Path, dream: str) -> None:
    path = save_png(tmp_path / "dream.png", {"Dream": dream})

    assert read_image_parameters(path) == DREAM_EXPECTED


# --- NovelAI --------------------------------------------------------------------------------

def test_novelai_comment_and_description(tmp_path: Path) -> None:
    # sd-parsers' tests/resources/parsers/NovelAI/novelai1_cropped.png, a NovelAI download; read
    # as stable-diffusion-webui's modules/images.py read_info_from_image does.
    comment = {"steps": 50, "sampler": "k_euler_ancestral", "seed": 2253955223, "strength": 0.4, "noise": 0.0,
               "scale": 10.0, "uc": "lowres, bad anatomy, bad hands, text, error"}
    path = save_png(tmp_path / "novelai.png", {
        "Title": "AI generated image", "Description": "masterpiece, best quality,  cat, space, icon",
        "Software": "NovelAI", "Source": "Stable Diffusion 1D44365E", "Comment": json.dumps(comment)})

    assert read_image_parameters(path) == ImageParameters(
        generator="NovelAI",
        prompt="masterpiece, best quality,  cat, space, icon",
        negative_prompt="lowres, bad anatomy, bad hands, text, error",
        seed=2253955223,
        params=params(sd_model="Stable Diffusion 1D44365E", sampler_name="k_euler_ancestral", steps=50,
                      cfg_scale=10.0),
    )


def test_novelai_v4_comment(tmp_path: Path) -> None:
    # NovelAI V3/V4 downloads: the Comment also carries prompt, size, noise_schedule and the V4
    # captions (fields as in the image API's "parameters" the Comment mirrors).
    comment = {"prompt": "1girl, silver hair, library, year 2025", "steps": 28, "height": 1216, "width": 832,
               "scale": 5.0, "uc": "", "seed": 917009594, "sampler": "k_euler_ancestral",
               "noise_schedule": "karras", "cfg_rescale": 0, "request_type": "PromptGenerateRequest",
               "v4_prompt": {"caption": {"base_caption": "1girl, silver hair, library, year 2025",
                                         "char_captions": []}, "use_coords": False, "use_order": True},
               "v4_negative_prompt": {"caption": {"base_caption": "lowres, artistic error", "char_captions": []}}}
    path = save_png(tmp_path / "nai4.png", {
        "Title": "NovelAI generated image", "Description": "1girl, silver hair, library, year 2025",
        "Software": "NovelAI", "Source": "NovelAI Diffusion V4.5 4BDE2A90", "Comment": json.dumps(comment)})

    assert read_image_parameters(path) == ImageParameters(
        generator="NovelAI",
        prompt="1girl, silver hair, library, year 2025",
        negative_prompt="lowres, artistic error",
        seed=917009594,
        params=params(sd_model="NovelAI Diffusion V4.5 4BDE2A90", sampler_name="k_euler_ancestral",
                      scheduler="karras", steps=28, cfg_scale=5.0, width=832, height=1216),
    )


# --- Fooocus --------------------------------------------------------------------------------

# modules/meta_parser.py FooocusMetadataParser.parse_string: json.dumps of the sorted fields; the
# PNG gets it as "parameters" beside "fooocus_scheme" (modules/private_logger.py); content as in
# sd-parsers' tests/resources/parsers/Fooocus/fooocus1_cropped.png.
FOOOCUS_JSON = {
    "adm_guidance": "(1.5, 0.8, 0.3)", "base_model": "juggernautXL_v8Rundiffusion", "base_model_hash": "aeb7e9e689",
    "clip_skip": 2, "full_negative_prompt": ["(worst quality, low quality:1.4)"],
    "full_prompt": ["cinematic still a smiling goldfish . emotional, harmonious"], "guidance_scale": 4,
    "loras": [], "metadata_scheme": "fooocus", "negative_prompt": "", "performance": "Speed",
    "prompt": "a smiling goldfish", "prompt_expansion": "a smiling goldfish, deep focus, intricate",
    "refiner_model": "None", "refiner_switch": 0.5, "resolution": "(768, 1280)", "sampler": "dpmpp_2m_sde_gpu",
    "scheduler": "karras", "seed": "6952411511246973023", "sharpness": 2, "steps": 30,
    "styles": "['Fooocus V2', 'Fooocus Enhance', 'Fooocus Sharp']", "vae": "Default (model)",
    "version": "Fooocus v2.4.3",
}
FOOOCUS_EXPECTED = ImageParameters(
    generator="Fooocus",
    prompt="a smiling goldfish",
    negative_prompt=None,
    seed=6952411511246973023,
    params=params(sd_model="juggernautXL_v8Rundiffusion", sampler_name="dpmpp_2m_sde_gpu", scheduler="karras",
                  steps=30, cfg_scale=4.0, width=768, height=1280),
)


def test_fooocus_png_json_scheme(tmp_path: Path) -> None:
    path = save_png(tmp_path / "fooocus.png",
                    {"parameters": json.dumps(FOOOCUS_JSON), "fooocus_scheme": "fooocus"})

    assert read_image_parameters(path) == FOOOCUS_EXPECTED


def test_fooocus_png_a1111_scheme(tmp_path: Path) -> None:
    # A1111MetadataParser.parse_string: an infotext whose Version is Fooocus', scheme "a1111".
    text = ("cinematic still a smiling goldfish\nNegative prompt: (worst quality, low quality:1.4)\n"
            "Steps: 30, Sampler: DPM++ 2M SDE, Seed: 6952411511246973023, Size: 768x1280, CFG scale: 4, "
            "Sharpness: 2, ADM Guidance: \"(1.5, 0.8, 0.3)\", Model: juggernautXL_v8Rundiffusion, "
            "Model hash: aeb7e9e689, Performance: Speed, Scheduler: karras, VAE: Default (model), "
            "Version: Fooocus v2.4.3")
    path = save_png(tmp_path / "fooocus-a1111.png", {"parameters": text, "fooocus_scheme": "a1111"})

    result = read_image_parameters(path)

    assert result.generator == "Fooocus"
    assert result.seed == 6952411511246973023
    assert result.params["sd_model"] == "juggernautXL_v8Rundiffusion"
    assert (result.params["width"], result.params["height"]) == (768, 1280)


@pytest.mark.parametrize("image_format", ["JPEG", "WEBP"])
def test_fooocus_jpeg_and_webp_exif(tmp_path: Path, image_format: str) -> None:
    # meta_parser.get_exif: exif[0x9286] = metadata (in IFD0, no character code), exif[0x0131] =
    # "Fooocus v" + version, exif[0x927C] = scheme.
    exif = Image.Exif()
    exif[0x9286] = json.dumps(FOOOCUS_JSON)
    exif[0x0131] = "Fooocus v2.4.3"
    exif[0x927C] = "fooocus"
    path = save_with_exif(tmp_path / f"fooocus.{image_format.lower()}", exif, format=image_format)

    assert read_image_parameters(path) == FOOOCUS_EXPECTED


def test_fooocus_labelled_keys(tmp_path: Path) -> None:
    # The labels meta_parser's COMPARISON_FIELDS and the image log give the same fields.
    document = {"Prompt": "a smiling goldfish", "Negative Prompt": "", "Performance": "Speed",
                "Resolution": "(768, 1280)", "Guidance Scale": 4, "Sharpness": 2,
                "Base Model": "juggernautXL_v8Rundiffusion", "Sampler": "dpmpp_2m_sde_gpu", "Scheduler": "karras",
                "Seed": "6952411511246973023", "Steps": 30, "Version": "Fooocus v2.4.3"}
    path = save_png(tmp_path / "labels.png", {"parameters": json.dumps(document)})

    assert read_image_parameters(path) == FOOOCUS_EXPECTED
