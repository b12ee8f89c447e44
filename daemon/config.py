"""``config.yaml`` -> one validated, typed ``Config``.

Validation happens once, at load: an unknown key, a wrong type, a category a
route names that does not exist, or a missing font/logo file is a
``ConfigError`` naming the key (and the file) before any photo is touched.
Relative paths are taken relative to the config file's folder.
"""

from __future__ import annotations

import copy
import difflib
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from integrations.shopify.config import PublishParams, ShopifyConfig
from pipeline.confidence import MIN_CONFIDENCE
from pipeline.profile import Profile
from pipeline.segment import SegmenterConfig
from pipeline.template import check_template

DEFAULT_CATEGORY = "default"
PROFILE_KEYS = ("load", "refine", "compose", "shadow", "brand", "encode")


class ConfigError(Exception):
    """The config file is unreadable or invalid; the message lists every problem."""


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class WatchConfig(Section):
    paths: list[Path] = Field(default_factory=lambda: [Path("inbox")])
    polling: bool = Field(False, description="force the polling observer (network shares are detected anyway)")
    poll_interval: float = Field(2.0, gt=0, le=300)
    settle_seconds: float = Field(2.0, ge=0, le=3600)
    rescan_seconds: float = Field(60.0, gt=0, le=86400)
    extensions: list[str] = Field(default_factory=lambda: [".jpg", ".jpeg", ".png", ".tif", ".tiff", ".webp", ".heic",
                                                           ".heif", ".avif", ".gif", ".bmp"])
    ignore: list[str] = Field(
        default_factory=lambda: [".*", "._*", "~*", "*.part", "*.tmp", "*.crdownload", "Thumbs.db", "desktop.ini"],
        description="file-name patterns never taken (hidden, temporary and partial files)")
    follow_symlinks: bool = Field(False, description="take photos reached through symbolic links (off: links are "
                                                     "reported, not followed)")
    empty_grace_seconds: float = Field(30.0, ge=0, le=3600, description="a 0-byte file is looked at again for this "
                                       "long before it counts as empty (a writer may have opened it and paused)")
    root_check_seconds: float = Field(5.0, gt=0, le=3600, description="how often a missing or unreadable watch "
                                      "folder is looked for again")


class OutputConfig(Section):
    dir: Path = Path("outbox")


class RouteRule(Section):
    """Path (relative to the watched root) -> category, product key and view."""

    glob: str | None = None
    regex: str | None = None
    category: str = DEFAULT_CATEGORY
    product: str = Field("{product}", description="template over the regex's named groups")
    view: str = Field("{view}", description="template over the regex's named groups")
    index: str = Field("{index}", description="template over the regex's named groups: the photo's order in a view")

    @field_validator("product", "view", "index")
    @classmethod
    def _template(cls, value: str):
        return check_template(value)

    @field_validator("regex")
    @classmethod
    def _compiles(cls, value: str | None):
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"regex {value!r} does not compile: {exc}") from None
        return value

    @model_validator(mode="after")
    def _one_matcher(self):
        if (self.glob is None) == (self.regex is None):
            raise ValueError("a route needs exactly one of 'glob' or 'regex'")
        return self


class WorkersConfig(Section):
    decode: int = Field(2, ge=1, le=64)
    finish: int = Field(2, ge=1, le=64)
    publish: int = Field(2, ge=1, le=64)
    max_in_memory: int = Field(6, ge=1, le=256, description="photos held in memory at once, all stages together")
    max_attempts: int = Field(5, ge=1, le=100)
    retry_base_seconds: float = Field(2.0, gt=0)
    retry_max_seconds: float = Field(300.0, gt=0)
    shutdown_timeout: float = Field(30.0, gt=0, le=3600)


class ModelsConfig(Section):
    dir: Path | None = Field(None, description="where fetched models live; default <state_dir>/models")


class MetricsConfig(Section):
    """The optional Prometheus endpoint (``/metrics``)."""

    enabled: bool = False
    host: str = Field("127.0.0.1", description="address to bind; keep it loopback unless a firewall guards the port")
    port: int = Field(9464, ge=0, le=65535, description="0 picks a free port")


class ReviewConfig(Section):
    """The review page ``booth run`` serves. Bound to loopback; another host
    needs a token (``token_env`` or the systemd credential ``token_credential``)."""

    enabled: bool = True
    host: str = Field("127.0.0.1", description="address to bind; not loopback only with a token set")
    port: int = Field(8470, ge=0, le=65535, description="0 picks a free port")
    token_env: str = Field("BOOTH_REVIEW_TOKEN", description="environment variable holding the page's token")
    token_credential: str = Field("review-token", description="token file name under $CREDENTIALS_DIRECTORY")


class ReviewParams(Section):
    """A category's review gate: which finished cut-outs a person sees before they are published."""

    mode: Literal["auto", "always", "never"] = Field(
        "auto", description="auto: hold cut-outs whose confidence is under min_confidence; always; never")
    min_confidence: float = Field(MIN_CONFIDENCE, ge=0, le=1,
                                  description="confidence under which a cut-out is held (measured: "
                                  "docs/segmentation.md)")


class LoggingConfig(Section):
    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["auto", "json", "console"] = "auto"


class Category(Section):
    name: str
    profile: Profile
    publish: PublishParams = PublishParams()
    review: ReviewParams = ReviewParams()


class Config(Section):
    source: Path | None = Field(None, description="the file this was loaded from")
    state_dir: Path = Path("state")
    quarantine_dir: Path | None = None
    archive_dir: Path = Path("archive")
    after_success: Literal["keep", "archive", "delete"] = "keep"
    watch: WatchConfig = WatchConfig()
    output: OutputConfig = OutputConfig()
    segmenter: SegmenterConfig = SegmenterConfig()
    models: ModelsConfig = ModelsConfig()
    workers: WorkersConfig = WorkersConfig()
    routes: list[RouteRule] = Field(default_factory=list)
    categories: dict[str, Category]
    shopify: ShopifyConfig = ShopifyConfig()
    metrics: MetricsConfig = MetricsConfig()
    review: ReviewConfig = ReviewConfig()
    logging: LoggingConfig = LoggingConfig()

    @property
    def quarantine(self) -> Path:
        return self.quarantine_dir or self.state_dir / "quarantine"

    @property
    def models_dir(self) -> Path:
        return self.models.dir or self.state_dir / "models"

    def category(self, name: str | None) -> Category:
        return self.categories.get(name or DEFAULT_CATEGORY) or self.categories[DEFAULT_CATEGORY]


# --------------------------------------------------------------------------- loading

_PATH_KEYS = (
    ("state_dir",), ("quarantine_dir",), ("archive_dir",), ("output", "dir"), ("models", "dir"),
    ("segmenter", "path"),
)


def load_config(path: str | Path) -> Config:
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    return parse_config(raw or {}, base=path.resolve().parent, source=path)


def parse_config(raw: Any, base: Path, source: Path | None = None) -> Config:
    where = str(source) if source else "config"
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: the top level must be a mapping of keys")
    raw = copy.deepcopy(raw)
    problems: list[str] = []
    categories = raw.pop("categories", None)
    names = {DEFAULT_CATEGORY, *(categories if isinstance(categories, dict) else ())}
    raw["categories"] = _resolve_categories(categories, base, problems)
    _absolutise(raw, base)
    raw["source"] = source
    problems += _route_problems(raw.get("routes"), names)
    try:
        config = Config.model_validate(raw)
    except ValidationError as exc:
        problems += _describe(exc, Config)
    else:
        if not problems:
            return config
    raise ConfigError(f"{where}: invalid config\n" + "\n".join(f"  - {p}" for p in problems))


def _absolutise(raw: dict, base: Path) -> None:
    for keys in _PATH_KEYS:
        node = raw
        for key in keys[:-1]:
            node = node.get(key) if isinstance(node, dict) else None
        if isinstance(node, dict) and isinstance(node.get(keys[-1]), str):
            node[keys[-1]] = str(base / Path(node[keys[-1]]).expanduser())
    watch = raw.get("watch")
    if isinstance(watch, dict) and isinstance(watch.get("paths"), list):
        watch["paths"] = [str(base / Path(p).expanduser()) if isinstance(p, str) else p for p in watch["paths"]]
    # Defaults are relative to the config file too, not to the working directory.
    raw.setdefault("state_dir", str(base / "state"))
    raw.setdefault("archive_dir", str(base / "archive"))
    for section, key, default in (("output", "dir", str(base / "outbox")), ("watch", "paths", [str(base / "inbox")])):
        node = raw.setdefault(section, {})
        if isinstance(node, dict):
            node.setdefault(key, default)


def _resolve_categories(raw: Any, base: Path, problems: list[str]) -> dict[str, dict]:
    """Each category = ``default`` deep-merged with its own keys (or with the
    category named by ``extends``), validated into a ``Profile`` + publish params."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        problems.append("categories: must be a mapping of category name -> settings")
        return {}
    raw.setdefault(DEFAULT_CATEGORY, {})
    merged: dict[str, dict] = {}

    def resolve(name: str, seen: tuple[str, ...]) -> dict:
        if name in merged:
            return merged[name]
        own = raw[name] or {}
        if not isinstance(own, dict):
            raise _CategoryProblem(f"categories.{name}: must be a mapping")
        own = dict(own)
        parent = own.pop("extends", None if name == DEFAULT_CATEGORY else DEFAULT_CATEGORY)
        if parent is not None:
            if parent not in raw:
                raise _CategoryProblem(f"categories.{name}.extends: no category named {parent!r}")
            if parent in seen:
                raise _CategoryProblem(f"categories.{name}.extends: circular ({' -> '.join(seen + (parent,))})")
            own = _deep_merge(resolve(parent, seen + (parent,)), own)
        merged[name] = own
        return own

    out: dict[str, dict] = {}
    for name in raw:
        try:
            settings = copy.deepcopy(resolve(name, (name,)))
        except _CategoryProblem as exc:
            problems.append(str(exc))
            continue
        publish = settings.pop("publish", {})
        review = settings.pop("review", {})
        _absolutise_brand(settings, base)
        try:
            profile = Profile.model_validate({"name": name, **settings})
        except ValidationError as exc:
            problems += _describe(exc, Profile, prefix=f"categories.{name}")
            continue
        out[name] = {"name": name, "profile": profile, "publish": publish, "review": review}
    return out


class _CategoryProblem(Exception):
    pass


def _absolutise_brand(settings: dict, base: Path) -> None:
    brand = settings.get("brand")
    if not isinstance(brand, dict):
        return
    bar, logo = brand.get("bar"), brand.get("logo")
    if isinstance(bar, dict) and isinstance(bar.get("font"), str):
        bar["font"] = str(base / Path(bar["font"]).expanduser())
    if isinstance(logo, dict) and isinstance(logo.get("path"), str):
        logo["path"] = str(base / Path(logo["path"]).expanduser())


def _deep_merge(base: dict, override: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _route_problems(routes: Any, categories: set[str]) -> list[str]:
    """Routes naming a category that does not exist (checked even when other keys are wrong)."""
    problems = []
    for i, route in enumerate(routes if isinstance(routes, list) else []):
        category = route.get("category", DEFAULT_CATEGORY) if isinstance(route, dict) else None
        if isinstance(category, str) and category not in categories:
            problems.append(f"routes[{i}].category: no category named {category!r} "
                            f"(have: {', '.join(sorted(categories))})")
    return problems


def _describe(exc: ValidationError, model: type[BaseModel], prefix: str = "") -> list[str]:
    lines = []
    for err in exc.errors(include_url=False):
        loc = [str(p) for p in err["loc"]]
        key = ".".join(([prefix] if prefix else []) + loc)
        msg, kind, given = err["msg"], err["type"], err.get("input")
        if kind == "extra_forbidden":
            msg = "unknown key" + _hint(model, err["loc"])
        elif kind == "value_error":
            msg = msg.removeprefix("Value error, ")
        elif not isinstance(given, (dict, list)):
            msg += f" (got {given!r})"
        lines.append(f"{key}: {msg}")
    return lines


def _hint(model: type[BaseModel], loc: tuple) -> str:
    """' (did you mean X?)' for an unknown key, walking the model along ``loc``."""
    node: Any = model
    for part in loc[:-1]:
        fields = getattr(node, "model_fields", None)
        if fields is None or part not in fields:
            return ""
        node = _model_of(fields[part].annotation)
    fields = getattr(node, "model_fields", None)
    if not fields:
        return ""
    close = difflib.get_close_matches(str(loc[-1]), list(fields), n=1)
    return f" (did you mean {close[0]!r}?)" if close else f" (known keys: {', '.join(fields)})"


def _model_of(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _model_of(arg)
        if found is not None:
            return found
    return None
