"""The typed parameters of every stage, one ``Profile`` per product category.

``config.yaml`` is turned into these once, at load time; the stages never see
raw dictionaries. Every model forbids unknown keys so a typo is caught with
its name before any photo is touched.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from pipeline.template import check_template

_HEX = re.compile(r"^#?([0-9a-fA-F]{6})([0-9a-fA-F]{2})?$")


class Params(BaseModel):
    """The one base of every config model: frozen, and an unknown key is an error."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def _resolve_path(value: Path, info: ValidationInfo) -> Path:
    # Relative to the config file's folder (``context={"base": folder}``), not
    # to wherever the process was started; without a base it stays relative.
    path = value.expanduser()
    base = (info.context or {}).get("base")
    return path if path.is_absolute() or base is None else Path(base) / path


ConfigPath = Annotated[Path, AfterValidator(_resolve_path)]
"""A path in ``config.yaml``: ``~`` expanded, a relative one taken from the
config file's folder (``Model.model_validate(raw, context={"base": folder})``).
A default resolves the same way when its field has ``validate_default=True``."""


def parse_colour(value: str | tuple | list) -> tuple[int, int, int]:
    """'#RRGGBB', 'white'/'black', or [r, g, b] -> (r, g, b)."""
    named = {"white": (255, 255, 255), "black": (0, 0, 0)}
    if isinstance(value, str):
        if value.lower() in named:
            return named[value.lower()]
        m = _HEX.match(value.strip())
        if not m:
            raise ValueError(f"{value!r} is not a colour: use '#RRGGBB', 'white', 'black' or [r, g, b]")
        h = m.group(1)
        return int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16)
    if len(value) == 3 and all(isinstance(c, int) and 0 <= c <= 255 for c in value):
        return tuple(value)  # type: ignore[return-value]
    raise ValueError(f"{value!r} is not a colour: use '#RRGGBB', 'white', 'black' or [r, g, b]")


Colour = Annotated[tuple[int, int, int], Field(description="sRGB colour")]
Percent = Annotated[float, Field(ge=0, lt=50)]
Unit = Annotated[float, Field(ge=0, le=1)]


class LoadParams(Params):
    max_pixels: int = Field(60_000_000, gt=0, description="decompression-bomb cap (width x height)")
    max_bytes: int = Field(200_000_000, gt=0, description="files larger than this are refused unread "
                                                           "(a booth JPEG is a few MB, a 16-bit TIFF about 100 MB)")


class RefineParams(Params):
    @field_validator("levels")
    @classmethod
    def _levels_order(cls, value):
        if not 0 <= value[0] < value[1] <= 1:
            raise ValueError("levels must be (low, high) with 0 <= low < high <= 1")
        return value

    radius: float = Field(0.004, gt=0, le=0.05, description="guided filter radius, fraction of the subject's long side")
    eps: float = Field(1e-3, gt=0, description="guided filter regularisation (guide in 0..1)")
    levels: tuple[float, float] = Field((0.1, 0.9), description="matte values mapped to 0 and 1 after filtering: "
                                        "hard-surfaced gear has solid edges, not a translucent rim")
    choke_px: float = Field(0.0, ge=0, le=20, description="shrink the matte by this many output pixels")
    feather_px: float = Field(0.0, ge=0, le=20, description="soften the matte edge by this many output pixels")
    decontaminate: bool = True


class Padding(Params):
    top: Percent = 8.0
    right: Percent = 8.0
    bottom: Percent = 8.0
    left: Percent = 8.0

    @model_validator(mode="before")
    @classmethod
    def _from_number(cls, value):
        if isinstance(value, (int, float)):
            return {"top": value, "right": value, "bottom": value, "left": value}
        return value


class ComposeParams(Params):
    width: int = Field(2048, ge=16, le=8192)
    height: int = Field(2048, ge=16, le=8192)
    padding: Padding = Padding()
    align: Literal["center", "bottom"] = "center"
    background: Colour | Literal["transparent"] = (255, 255, 255)
    upscale: bool = Field(True, description="enlarge small products to fill the padded canvas")
    scale: Literal["photo", "product"] = Field(
        "photo", description="photo: each view fills its canvas; product: all views of one product share one "
        "scale (the booth shoots them at one distance), so they keep their true relative size")
    subject_threshold: Unit = Field(0.5, description="alpha above which a pixel counts when cropping")

    @field_validator("background", mode="before")
    @classmethod
    def _colour(cls, value):
        return value if value == "transparent" else parse_colour(value)


class ShadowParams(Params):
    mode: Literal["none", "contact", "cast", "contact+cast", "keep-original"] = "contact"
    opacity: Unit = 0.35
    blur: float = Field(2.0, ge=0, le=20, description="blur, % of the subject's width")
    offset: tuple[float, float] = Field((0.0, 0.0), description="(x, y) shift, % of canvas")
    direction: float = Field(135.0, description="cast direction in degrees (0 = right, 90 = up, counter-clockwise)")
    length: float = Field(0.35, ge=0, le=2, description="cast length, fraction of the subject's height")
    contact_height: float = Field(3.0, ge=0, le=20, description="contact shadow height, % of the subject's height")

    @field_validator("offset", mode="before")
    @classmethod
    def _pair(cls, value):
        return tuple(value) if isinstance(value, list) else value


class BarParams(Params):
    text: str = "{title}"
    font: ConfigPath | None = Field(None, description="a .ttf/.otf file; the bundled font when unset")
    size: float = Field(3.0, gt=0, le=20, description="text height, % of canvas height")
    colour: Colour = (255, 255, 255)
    background: Colour = (0, 0, 0)
    opacity: Unit = 0.6
    position: Literal["top", "bottom"] = "bottom"

    @field_validator("colour", "background", mode="before")
    @classmethod
    def _colour(cls, value):
        return parse_colour(value)

    @field_validator("text")
    @classmethod
    def _template(cls, value: str):
        return check_template(value)

    @field_validator("font")
    @classmethod
    def _font_exists(cls, value: Path | None):
        if value is not None and not value.is_file():
            raise ValueError(f"font file not found: {value}")
        return value


class LogoParams(Params):
    path: ConfigPath
    position: Literal["top-left", "top-right", "bottom-left", "bottom-right", "center"] = "top-right"
    scale: float = Field(12.0, gt=0, le=100, description="logo width, % of canvas width")
    opacity: Unit = 0.8
    margin: Percent = 3.0

    @field_validator("path")
    @classmethod
    def _logo_exists(cls, value: Path):
        if not value.is_file():
            raise ValueError(f"logo file not found: {value}")
        return value


class BrandParams(Params):
    bar: BarParams | None = None
    logo: LogoParams | None = None


class EncodeParams(Params):
    format: Literal["jpeg", "png", "webp"] = "jpeg"
    quality: int = Field(90, ge=1, le=100)
    min_quality: int = Field(60, ge=1, le=100)
    subsampling: Literal["4:4:4", "4:2:2", "4:2:0"] = "4:2:0"
    max_bytes: int = Field(20_000_000, gt=0, description="Shopify takes 20 MB per file")
    embed_icc: bool = True

    @model_validator(mode="after")
    def _quality_order(self):
        if self.min_quality > self.quality:
            raise ValueError("min_quality must not exceed quality")
        return self

    @property
    def extension(self) -> str:
        return {"jpeg": "jpg", "png": "png", "webp": "webp"}[self.format]


class Profile(Params):
    """Everything the pipeline needs to finish one photo of a category."""

    name: str = "default"
    load: LoadParams = LoadParams()
    refine: RefineParams = RefineParams()
    compose: ComposeParams = ComposeParams()
    shadow: ShadowParams = ShadowParams()
    brand: BrandParams = BrandParams()
    encode: EncodeParams = EncodeParams()

    @model_validator(mode="after")
    def _transparency_needs_alpha(self):
        if self.compose.background == "transparent" and self.encode.format == "jpeg":
            raise ValueError("compose.background 'transparent' needs encode.format png or webp (JPEG has no alpha)")
        return self
