"""A stand-in for the generator CLI (``sdgen generate``) that writes sessions the way it does.

What the real CLI writes (see ``fixtures/results-real``): a folder
``YYYYMMDD_HHMMSS-<name>``; PNGs named ``<name>_<NNNN>_seed-<seed>.png`` (no seed suffix when
seeds are random) carrying A1111's ``parameters`` text chunk; a ``manifest.json`` with
``snapshot``, ``images`` and ``status``, rewritten in place (truncate, then write) after
every image, so readers can catch it half-written. Status goes ongoing → completed, or
aborted when the run is interrupted.

Used by ``manage.py simulatesessions`` and by the benchmarks; nothing here needs Django.
"""

from __future__ import annotations

import io
import itertools
import json
import logging
import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

MODEL_CHECKPOINT = "v1-5-pruned-emaonly.safetensors [6ce0161689]"
PROMPT_TEMPLATE = "masterpiece, 1girl, {FacialExpression}, {Angle}, detailed face\n"
NEGATIVE_PROMPT = "low quality, blurry"
VARIATIONS = {
    "FacialExpression": ["smiling, cheerful expression", "sad, melancholic expression", "angry, furious expression"],
    "Angle": ["front view", "side view"],
}
API_PARAMS = {"steps": 30, "cfg_scale": 7, "sampler": "DPM++ 2M", "scheduler": "Karras"}
# The three kinds of run the real CLI writes, in the order the simulator cycles through them.
KINDS = ("combinatorial", "seed_sweep", "random")
_THEMES = {"combinatorial": "facial_expressions", "seed_sweep": "seed_sweep_test", "random": "random_test"}


@dataclass(frozen=True)
class PlannedImage:
    filename: str
    seed: int
    prompt: str
    applied_variations: dict[str, str]


@dataclass
class SessionPlan:
    """Everything about a run decided before its first image, as the CLI does."""

    folder: str
    kind: str
    images: list[PlannedImage]
    width: int = 512
    height: int = 768
    started: datetime = field(default_factory=datetime.now)
    seed_list: list[int] | None = None

    def manifest(self, *, done: int, status: str) -> dict[str, Any]:
        """The manifest after ``done`` images, with keys in the real CLI's order."""
        used: dict[str, list[str]] = {name: [] for name in VARIATIONS}
        for image in self.images:
            for name, value in image.applied_variations.items():
                if value not in used[name]:
                    used[name].append(value)
        generation_params: dict[str, Any] = {
            "mode": "random" if self.kind == "random" else "combinatorial",
            "seed_mode": "random" if self.kind == "random" else "progressive",
            "base_seed": -1 if self.kind == "random" else 42,
            "num_images": len(self.images),
            "total_combinations": len(list(itertools.product(*VARIATIONS.values()))),
        }
        if self.seed_list is not None:
            generation_params["seed_list"] = self.seed_list
        return {
            "snapshot": {
                "version": "2.0",
                "timestamp": self.started.isoformat(),
                "runtime_info": {"sd_model_checkpoint": MODEL_CHECKPOINT},
                "resolved_template": {"prompt": PROMPT_TEMPLATE, "negative": NEGATIVE_PROMPT + "\n"},
                "generation_params": generation_params,
                "api_params": {"width": self.width, "height": self.height, **API_PARAMS},
                "variations": {
                    name: {"available": values, "used": used[name], "count": len(values)}
                    for name, values in VARIATIONS.items()
                },
                "fixed_placeholders": {},
                "theme_name": None,
                "style": "default",
            },
            "images": [
                {
                    "filename": image.filename,
                    "seed": image.seed,
                    "prompt": image.prompt,
                    "negative_prompt": NEGATIVE_PROMPT,
                    "applied_variations": image.applied_variations,
                }
                for image in self.images[:done]
            ],
            "status": status,
        }


def plan_session(*, kind: str, images: int, started: datetime, width: int = 512, height: int = 768,
                 theme: str | None = None, rng: random.Random | None = None) -> SessionPlan:
    rng = rng or random.Random()
    theme = theme or _THEMES[kind]
    folder = f"{started:%Y%m%d_%H%M%S}-{theme}"
    combos = list(itertools.product(*VARIATIONS.values()))
    seed_list = [1000, 1001, 1002] if kind == "seed_sweep" else None
    planned = []
    for index in range(images):
        if kind == "random":
            values = rng.choice(combos)
            seed = rng.randrange(2**32)
            filename = f"{theme}_{index:04d}.png"
        elif seed_list is not None:
            # Every seed of the list for one combination, then the next combination.
            values = combos[(index // len(seed_list)) % len(combos)]
            seed = seed_list[index % len(seed_list)]
            filename = f"{theme}_{index:04d}_seed-{seed}.png"
        else:
            values = combos[index % len(combos)]
            seed = 42 + index
            filename = f"{theme}_{index:04d}_seed-{seed}.png"
        applied = dict(zip(VARIATIONS, values))
        prompt = PROMPT_TEMPLATE.strip().format(**applied)
        planned.append(PlannedImage(filename, seed, prompt, applied))
    return SessionPlan(folder=folder, kind=kind, images=planned, width=width, height=height, started=started,
                       seed_list=seed_list)


def a1111_parameters(plan: SessionPlan, image: PlannedImage) -> str:
    return (
        f"{image.prompt}\nNegative prompt: {NEGATIVE_PROMPT}\n"
        f"Steps: {API_PARAMS['steps']}, Sampler: {API_PARAMS['sampler']}, Schedule type: {API_PARAMS['scheduler']}, "
        f"CFG scale: {API_PARAMS['cfg_scale']}, Seed: {image.seed}, Size: {plan.width}x{plan.height}, "
        "Model hash: 6ce0161689, Model: v1-5-pruned-emaonly, Version: v1.10.1"
    )


def png_bytes(*, width: int, height: int, seed: int, parameters: str | None) -> bytes:
    """A PNG with the A1111 ``parameters`` chunk (none when None): a gradient whose colours
    follow the seed."""
    from PIL import Image, PngImagePlugin

    rng = random.Random(seed)
    top = tuple(rng.randrange(256) for _ in range(3))
    bottom = tuple(rng.randrange(256) for _ in range(3))
    mask = Image.linear_gradient("L").resize((width, height))
    picture = Image.composite(Image.new("RGB", (width, height), bottom), Image.new("RGB", (width, height), top), mask)
    info = PngImagePlugin.PngInfo()
    if parameters is not None:
        info.add_text("parameters", parameters)
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG", pnginfo=info)
    return buffer.getvalue()


def write_manifest(path: Path, document: dict[str, Any]) -> None:
    # Deliberately not atomic: the CLI truncates and rewrites the file in place.
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(document, handle, indent=2, ensure_ascii=False)


@dataclass
class SimulationResult:
    folders: list[str] = field(default_factory=list)
    images_written: int = 0
    aborted: bool = False


class GeneratorSimulator:
    """Writes ``sessions`` runs of ``images`` images each, one after another."""

    def __init__(
        self,
        *,
        results_dir: Path,
        sessions: int,
        images: int,
        rate: float = 0.0,
        abort_after: int | None = None,
        width: int = 512,
        height: int = 768,
        should_stop: Callable[[], bool] = lambda: False,
        clock: Callable[[], datetime] = datetime.now,
        sleep: Callable[[float], object] = time.sleep,
    ) -> None:
        self.results_dir = results_dir
        self.sessions = sessions
        self.images = images
        self.rate = rate
        self.abort_after = abort_after
        self.width, self.height = width, height
        self.should_stop = should_stop
        self.clock = clock
        self.sleep = sleep

    def run(self) -> SimulationResult:
        result = SimulationResult()
        for number in range(self.sessions):
            plan = self._plan(KINDS[number % len(KINDS)])
            result.folders.append(plan.folder)
            if not self._write_session(plan, result):
                result.aborted = True
                break
        return result

    def _plan(self, kind: str) -> SessionPlan:
        started = self.clock()
        plan = plan_session(kind=kind, images=self.images, started=started, width=self.width, height=self.height)
        # Two runs started in the same second would share a folder name; the CLI would wait.
        suffix = 2
        base = plan.folder
        while (self.results_dir / plan.folder).exists():
            plan.folder = f"{base}_{suffix}"
            suffix += 1
        return plan

    def _write_session(self, plan: SessionPlan, result: SimulationResult) -> bool:
        """Write one run; False when it was aborted (signal or ``abort_after``)."""
        folder = self.results_dir / plan.folder
        folder.mkdir(parents=True)
        manifest_path = folder / "manifest.json"
        write_manifest(manifest_path, plan.manifest(done=0, status="ongoing"))
        logger.info("%s: started (%d images)", plan.folder, len(plan.images))
        interval = 1.0 / self.rate if self.rate > 0 else 0.0
        next_at = time.monotonic()
        for done, image in enumerate(plan.images, start=1):
            if interval:
                next_at += interval
                self.sleep(max(0.0, next_at - time.monotonic()))
            if self.should_stop() or (self.abort_after is not None and result.images_written >= self.abort_after):
                write_manifest(manifest_path, plan.manifest(done=done - 1, status="aborted"))
                logger.info("%s: aborted after %d images", plan.folder, done - 1)
                return False
            data = png_bytes(width=plan.width, height=plan.height, seed=image.seed,
                             parameters=a1111_parameters(plan, image))
            with open(folder / image.filename, "wb") as handle:
                handle.write(data)
            write_manifest(manifest_path, plan.manifest(done=done, status="ongoing"))
            result.images_written += 1
        write_manifest(manifest_path, plan.manifest(done=len(plan.images), status="completed"))
        logger.info("%s: completed", plan.folder)
        return True


def set_tree_mtime(path: Path, when: float) -> None:
    """Backdate a written session (benchmarks build libraries of old, finished runs)."""
    for entry in os.scandir(path):
        os.utime(entry.path, (when, when))
    os.utime(path, (when, when))
