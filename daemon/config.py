"""``config.yaml`` -> one validated, typed ``Config``.

Validation happens once, at load: an unknown key, a wrong type, a key given
twice, a category a route names that does not exist, a template field no
photo has, folders that overlap the watched ones, or a missing font/logo file
is a ``ConfigError`` naming the key (and the file) before any photo is
touched. Relative paths are taken relative to the config file's folder
(``ConfigPath``).

``config_findings(config)`` then looks at the world the config points to
(watch folders, fetched models, the placeholder logo): warnings and notes
that ``booth config check``, ``booth doctor`` and the daemon report.
"""

from __future__ import annotations

import copy
import difflib
import hashlib
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, Field, ValidationError, ValidationInfo, field_validator, model_validator

from integrations.shopify.config import PublishParams, ShopifyConfig
from pipeline.confidence import MIN_CONFIDENCE
from pipeline.profile import ConfigPath, Params, Profile
from pipeline.segment import SegmenterConfig
from pipeline.template import check_template, unknown_fields

DEFAULT_CATEGORY = "default"
DEFAULT_SEGMENTER = "default"  # the label of the top-level ``segmenter:``
PROFILE_KEYS = ("load", "refine", "compose", "shadow", "brand", "encode")
CATEGORY_KEYS = ("views", "product_settle_seconds")  # a category's own keys beside its profile and sections
# The fields every photo has (daemon/router.py); each route regex's named groups add their own.
PHOTO_FIELDS = frozenset({"product", "title", "sku", "view", "index", "category", "serial", "barcode",
                          "product_key"})
# Fields the tags the booth writes into a photo give (pipeline/metadata.py folds
# IPTC and XMP names to these); a tag a route's `meta` names counts too.
TAG_FIELDS = frozenset({"keywords", "caption", "headline", "byline", "copyright", "instructions", "subject",
                        "preset", "framing"})
# assets/logo.png, the placeholder the bundled config brands accessories with
# (tests/test_config.py keeps this in step with the file).
PLACEHOLDER_LOGO_SHA256 = "c7bda0eb1770b90277db109d664606c9d107edb24dac80dc283bff6b188a6a1d"


@dataclass(frozen=True)
class Finding:
    """One thing a config check found. ``error``: the config cannot be used;
    ``warning``: it loads, but something it points to is not usable yet;
    ``note``: worth knowing, nothing to fix before running."""

    level: Literal["error", "warning", "note"]
    key: str
    message: str
    fix: str = ""

    def __str__(self) -> str:
        where = f"{self.key}: " if self.key else ""
        return f"{self.level}: {where}{self.message}" + (f" (fix: {self.fix})" if self.fix else "")


class ConfigError(Exception):
    """The config file is unreadable or invalid; the message lists every
    problem, ``findings`` has each one as an error ``Finding``."""

    def __init__(self, message: str, findings: Iterable[Finding] = ()) -> None:
        super().__init__(message)
        self.findings = tuple(findings) or (Finding("error", "", message),)


# --------------------------------------------------------------------------- the schema

class WatchConfig(Params):
    paths: list[ConfigPath] = Field(default_factory=lambda: [Path("inbox")], validate_default=True)
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


class OutputConfig(Params):
    dir: ConfigPath = Field(Path("outbox"), validate_default=True)


class RouteRule(Params):
    """Path (relative to the watched root) and the photo's tags -> category, product key and view."""

    glob: str | None = None
    regex: str | None = None
    meta: dict[str, str] | None = Field(None, description="tag -> glob the photo's IPTC/XMP tag must match "
                                        "(e.g. {preset: 'Lenses*'}); alone or with a glob or regex")
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
        if self.glob is not None and self.regex is not None:
            raise ValueError("a route needs exactly one of 'glob' or 'regex' (and may add 'meta')")
        if self.glob is None and self.regex is None and not self.meta:
            raise ValueError("a route needs exactly one of 'glob' or 'regex', or 'meta'")
        return self


class WorkersConfig(Params):
    decode: int = Field(2, ge=1, le=64)
    finish: int = Field(2, ge=1, le=64)
    publish: int = Field(2, ge=1, le=64)
    max_in_memory: int = Field(6, ge=1, le=256, description="photos held in memory at once, all stages together")
    max_attempts: int = Field(5, ge=1, le=100, description=(
        "tries after an unexpected error before the photo is quarantined. Transient failures (disk full, a folder "
        "that cannot be written, Shopify down) wait and retry with capped backoff for as long as it takes; "
        "bad photos are quarantined at once"))
    retry_base_seconds: float = Field(2.0, gt=0)
    retry_max_seconds: float = Field(300.0, gt=0)
    shutdown_timeout: float = Field(30.0, gt=0, le=3600)


class ModelsConfig(Params):
    dir: ConfigPath | None = Field(None, description="where fetched models live; default <state_dir>/models")


class MetricsConfig(Params):
    """The optional Prometheus endpoint (``/metrics``)."""

    enabled: bool = False
    host: str = Field("127.0.0.1", description="address to bind; keep it loopback unless a firewall guards the port")
    port: int = Field(9464, ge=0, le=65535, description="0 picks a free port")


class ReviewConfig(Params):
    """The review page ``booth run`` serves. Bound to loopback; another host
    needs a token (``token_env`` or the systemd credential ``token_credential``)."""

    enabled: bool = True
    host: str = Field("127.0.0.1", description="address to bind; not loopback only with a token set")
    port: int = Field(8470, ge=0, le=65535, description="0 picks a free port")
    token_env: str = Field("BOOTH_REVIEW_TOKEN", description="environment variable holding the page's token")
    token_credential: str = Field("review-token", description="token file name under $CREDENTIALS_DIRECTORY")


class ReviewParams(Params):
    """A category's review gate: which finished cut-outs a person sees before they are published."""

    mode: Literal["auto", "always", "never"] = Field(
        "auto", description="auto: hold cut-outs whose confidence is under min_confidence; always; never")
    min_confidence: float = Field(MIN_CONFIDENCE, ge=0, le=1,
                                  description="confidence under which a cut-out is held (measured: "
                                  "docs/segmentation.md)")


class LoggingConfig(Params):
    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["auto", "json", "console"] = "auto"


class Category(Params):
    name: str
    profile: Profile
    publish: PublishParams = PublishParams()
    review: ReviewParams = ReviewParams()
    segmenter: str = Field(DEFAULT_SEGMENTER, description="a label from `segmenters`, or 'default' for `segmenter`")
    views: list[str] = Field(default_factory=list, description="the views a product has, in page order: with "
                             "compose.scale: product, a product renders as soon as all are in")
    product_settle_seconds: float = Field(30.0, ge=0, le=86400, description="with compose.scale: product, "
                                          "render a product's views once no new view came for this long")

    def view_order(self, view: str | None) -> int | None:
        """The view's place in ``views`` (1-based), or None when it is not listed."""
        wanted = [v.casefold() for v in self.views]
        key = (view or "").casefold()
        return wanted.index(key) + 1 if key in wanted else None


class Config(Params):
    source: Path | None = Field(None, description="the file this was loaded from")
    state_dir: ConfigPath = Field(Path("state"), validate_default=True)
    quarantine_dir: ConfigPath | None = None
    archive_dir: ConfigPath = Field(Path("archive"), validate_default=True)
    after_success: Literal["keep", "archive", "delete"] = "keep"
    watch: WatchConfig = WatchConfig()
    output: OutputConfig = OutputConfig()
    segmenter: SegmenterConfig = SegmenterConfig()
    segmenters: dict[str, SegmenterConfig] = Field(
        default_factory=dict, description="more segmenters by label (same keys as `segmenter`); a category picks "
        "one with `segmenter: LABEL`")
    models: ModelsConfig = ModelsConfig()
    workers: WorkersConfig = WorkersConfig()
    routes: list[RouteRule] = Field(default_factory=list)
    categories: dict[str, Category]
    shopify: ShopifyConfig = ShopifyConfig()
    metrics: MetricsConfig = MetricsConfig()
    review: ReviewConfig = ReviewConfig()
    logging: LoggingConfig = LoggingConfig()

    @model_validator(mode="before")
    @classmethod
    def _path_sections(cls, data: Any):
        # A section left out still has paths (./inbox, ./outbox): validate its
        # defaults too, so they resolve against the config file's folder.
        if isinstance(data, dict):
            data = {**data, **{key: {} for key in ("watch", "output") if data.get(key) is None}}
        return data

    @field_validator("segmenters")
    @classmethod
    def _segmenter_labels(cls, value: dict[str, SegmenterConfig], info: ValidationInfo):
        if DEFAULT_SEGMENTER in value:
            raise ValueError(f"{DEFAULT_SEGMENTER!r} is the label of the top-level `segmenter`: "
                             "give this one another label")
        return value

    @property
    def quarantine(self) -> Path:
        return self.quarantine_dir or self.state_dir / "quarantine"

    @property
    def models_dir(self) -> Path:
        return self.models.dir or self.state_dir / "models"

    def category(self, name: str | None) -> Category:
        return self.categories.get(name or DEFAULT_CATEGORY) or self.categories[DEFAULT_CATEGORY]

    def segmenter_for(self, category: str | None) -> tuple[str, SegmenterConfig]:
        """(label, section) of the segmenter that cuts out this category's photos."""
        label = self.category(category).segmenter
        return label, self.segmenter_configs()[label]

    def segmenter_configs(self) -> dict[str, SegmenterConfig]:
        """label -> section of every configured segmenter, ``default`` first."""
        return {DEFAULT_SEGMENTER: self.segmenter, **self.segmenters}


# --------------------------------------------------------------------------- reading YAML

_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class UniqueKeyLoader(_SafeLoader):  # type: ignore[misc, valid-type]
    """Safe YAML in which a key given twice in one mapping (at any depth) is
    recorded in ``duplicates`` as (key, line, first line), not "last one wins"."""

    def __init__(self, stream) -> None:
        super().__init__(stream)
        self.duplicates: list[tuple[Any, int, int]] = []

    def construct_mapping(self, node, deep=False):
        seen: dict[Any, int] = {}
        for key_node, _value in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue  # `<<: *base` then overriding a key is how merges work
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            try:
                first = seen.setdefault(key, line)
            except TypeError:  # an unhashable key: construct_mapping says so itself
                continue
            if first != line:
                self.duplicates.append((key, line, first))
        return super().construct_mapping(node, deep=deep)


def read_yaml(text: str) -> tuple[Any, list[tuple[Any, int, int]]]:
    """The document, and its duplicated keys as (key, line, first line)."""
    loader = UniqueKeyLoader(text)
    try:
        return loader.get_single_data(), loader.duplicates
    finally:
        loader.dispose()


# --------------------------------------------------------------------------- loading

Problem = tuple[str, str]  # (key, message)


def load_config(path: str | Path) -> Config:
    path = Path(path)
    try:
        raw, duplicates = read_yaml(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    if duplicates:
        raise _invalid(str(path), [(str(key), f"given twice, on line {first} and line {line}: a key may appear "
                                               "once in a mapping (the second would silently win)")
                                   for key, line, first in duplicates])
    return parse_config(raw or {}, base=path.resolve().parent, source=path)


def parse_config(raw: Any, base: Path, source: Path | None = None) -> Config:
    where = str(source) if source else "config"
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: the top level must be a mapping of keys")
    raw = copy.deepcopy(raw)
    context = {"base": base}
    problems: list[Problem] = []
    categories = raw.pop("categories", None)
    routes, segmenters = raw.get("routes"), raw.get("segmenters")
    names = {DEFAULT_CATEGORY, *(categories if isinstance(categories, dict) else ())}
    labels = {DEFAULT_SEGMENTER, *(segmenters if isinstance(segmenters, dict) else ())}
    raw["categories"] = _resolve_categories(categories, context, problems, labels, route_fields(routes))
    raw["source"] = source
    problems += _route_problems(routes, names)
    try:
        config = Config.model_validate(raw, context=context)
    except ValidationError as exc:
        problems += _describe(exc, Config)
    else:
        problems += path_problems(config)
        if not problems:
            return config
    raise _invalid(where, problems)


def _invalid(where: str, problems: list[Problem]) -> ConfigError:
    problems = list(dict.fromkeys(problems))
    lines = [f"{key}: {message}" if key else message for key, message in problems]
    return ConfigError(f"{where}: invalid config\n" + "\n".join(f"  - {line}" for line in lines),
                       [Finding("error", key, message) for key, message in problems])


# --------------------------------------------------------------------------- categories

class _CategoryProblem(Exception):
    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}")
        self.problem = (key, message)


def _resolve_categories(raw: Any, context: dict, problems: list[Problem], labels: set[str],
                        fields: frozenset[str]) -> dict[str, Category]:
    """Each category = ``default`` deep-merged with its own keys (or with the
    category named by ``extends``), validated into a ``Category``. A mistake a
    category inherits is reported once, at the category it comes from."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        problems.append(("categories", "must be a mapping of category name -> settings"))
        return {}
    raw.setdefault(DEFAULT_CATEGORY, {})
    merged: dict[str, dict] = {}
    parents: dict[str, str | None] = {}

    def resolve(name: str, seen: tuple[str, ...]) -> dict:
        if name in merged:
            return merged[name]
        own = raw[name] or {}
        if not isinstance(own, dict):
            raise _CategoryProblem(f"categories.{name}", "must be a mapping")
        own = dict(own)
        parent = own.pop("extends", None if name == DEFAULT_CATEGORY else DEFAULT_CATEGORY)
        if parent is not None:
            if parent not in raw:
                raise _CategoryProblem(f"categories.{name}.extends", f"no category named {parent!r}")
            if parent in seen:
                raise _CategoryProblem(f"categories.{name}.extends", f"circular ({' -> '.join(seen + (parent,))})")
            own = deep_merge(resolve(parent, seen + (parent,)), own)
        parents[name] = parent
        merged[name] = own
        return own

    out: dict[str, Category] = {}
    found: dict[str, list[Problem]] = {}
    for name in raw:
        try:
            settings = copy.deepcopy(resolve(name, (name,)))
        except _CategoryProblem as exc:
            problems.append(exc.problem)
            continue
        category, found[name] = _category(name, settings, context, labels, fields)
        if category is not None:
            out[name] = category
    for name, own in found.items():
        inherited = set(found.get(parents.get(name) or "", ()))
        problems += [(_join(f"categories.{name}", key), message) for key, message in own
                     if (key, message) not in inherited]
    return out


def _category(name: str, settings: dict, context: dict, labels: set[str],
              fields: frozenset[str]) -> tuple[Category | None, list[Problem]]:
    """One category's settings -> its ``Category``, or None and its problems
    (keys relative to the category)."""
    problems: list[Problem] = []
    publish = _validated(PublishParams, settings.pop("publish", None) or {}, context, "publish", problems)
    review = _validated(ReviewParams, settings.pop("review", None) or {}, context, "review", problems)
    label = settings.pop("segmenter", DEFAULT_SEGMENTER)
    own = {key: settings.pop(key) for key in CATEGORY_KEYS if key in settings}
    profile = _validated(Profile, {"name": name, **settings}, context, "", problems)
    if not isinstance(label, str):
        problems.append(("segmenter", "a label from `segmenters` (or 'default'), not a section: "
                                      "configure it under the top-level `segmenters:`"))
    elif label not in labels:
        problems.append(("segmenter", f"no segmenter labelled {label!r}{_did_you_mean(label, labels)}"))
    if profile is not None and profile.brand.bar is not None:
        problems += _field_problems("brand.bar.text", profile.brand.bar.text, fields)
    if publish is not None:
        problems += _field_problems("publish.alt", publish.alt, fields)
    try:
        own = Category.model_validate({"name": name, "profile": Profile(), **own}).model_dump(include=set(own))
    except ValidationError as exc:
        problems += _describe(exc, Category)
    if problems:
        return None, problems
    return Category(name=name, profile=profile, publish=publish, review=review, segmenter=label, **own), []


def _validated(model: type[BaseModel], raw: Any, context: dict, prefix: str, problems: list[Problem]):
    try:
        return model.model_validate(raw, context=context)
    except ValidationError as exc:
        problems += _describe(exc, model, prefix=prefix)
        return None


def _field_problems(key: str, template: str, fields: Iterable[str]) -> list[Problem]:
    return [(key, f"template {template!r}: no field {unknown}, and no route or photo provides one")
            for unknown in unknown_fields(template, fields)]


def route_fields(routes: Any) -> frozenset[str]:
    """Every field a photo can have: ``PHOTO_FIELDS``, ``TAG_FIELDS``, each route
    regex's named groups and each tag a route's ``meta`` matches."""
    found: set[str] = set()
    for route in routes if isinstance(routes, list) else []:
        if not isinstance(route, dict):
            continue
        regex, meta = route.get("regex"), route.get("meta")
        try:
            found |= set(re.compile(regex).groupindex) if isinstance(regex, str) else set()
        except re.error:
            pass  # reported with the route
        found |= {str(tag).casefold() for tag in meta} if isinstance(meta, dict) else set()
    return PHOTO_FIELDS | TAG_FIELDS | found


def deep_merge(base: dict, override: Mapping) -> dict:
    """``base`` with ``override`` merged in, mapping by mapping; neither is modified."""
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


# --------------------------------------------------------------------------- routes

def _route_problems(routes: Any, categories: set[str]) -> list[Problem]:
    """Routes naming a category that does not exist, and route templates using
    a field their regex does not capture (checked even when other keys are wrong)."""
    problems = []
    for i, route in enumerate(routes if isinstance(routes, list) else []):
        if not isinstance(route, dict):
            continue
        category = route.get("category", DEFAULT_CATEGORY)
        if isinstance(category, str) and category not in categories:
            problems.append((f"routes[{i}].category", f"no category named {category!r} "
                                                      f"(have: {', '.join(sorted(categories))})"))
        problems += _route_template_problems(i, route)
    return problems


def _route_template_problems(i: int, route: dict) -> list[Problem]:
    # A route's product/view/index are filled from its own regex's groups only.
    try:
        groups = set(re.compile(route["regex"]).groupindex) if isinstance(route.get("regex"), str) else set()
    except re.error:
        return []
    problems = []
    for key in ("product", "view", "index"):
        template = route.get(key)
        if not isinstance(template, str):
            continue
        why = ("the regex has no such named group" if "regex" in route else
               "only a regex's named groups fill a route's templates: use a regex with (?P<name>...)")
        problems += [(f"routes[{i}].{key}", f"template {template!r}: no field {unknown}; {why}")
                     for unknown in unknown_fields(template, groups)]
    return problems


# --------------------------------------------------------------------------- folders that overlap

def path_problems(config: Config) -> list[Problem]:
    """Folders that overlap the watched ones. booth never takes a photo from its
    own output, state, quarantine or archive, so one of those that is (or holds)
    a watch folder hides every photo dropped there; one inside a watch folder
    puts booth's own files among the incoming photos; a watch folder inside
    another is seen twice, with a product key that depends on which root."""
    watched = [(f"watch.paths[{i}]", Path(p)) for i, p in enumerate(config.watch.paths)]
    own = [("output.dir", config.output.dir, False), ("state_dir", config.state_dir, True),
           ("quarantine_dir", config.quarantine, True), ("archive_dir", config.archive_dir, True)]
    problems = []
    for key, path, not_inside in own:
        if key == "quarantine_dir" and config.quarantine_dir is None:
            continue  # state_dir/quarantine: state_dir's finding says it
        for wkey, root in watched:
            if _within(root, path):
                same = "is" if _real(root) == _real(path) else "contains"
                problems.append((key, f"{path} {same} {wkey} {root}: booth never takes photos from its own "
                                      f"folders, so nothing dropped there would be processed; keep them apart"))
            elif not_inside and _within(path, root):
                problems.append((key, f"{path} is inside {wkey} {root}: keep booth's own files out of the "
                                      f"watched folders (e.g. beside it, {root.parent / Path(path).name})"))
    for i, (akey, a) in enumerate(watched):
        for bkey, b in watched[i + 1:]:
            if _real(a) == _real(b):
                problems.append((bkey, f"{b} is {akey} {a} again: list each folder once"))
            elif _within(b, a) or _within(a, b):
                (inner_key, inner), (outer_key, outer) = ((bkey, b), (akey, a)) if _within(b, a) else ((akey, a),
                                                                                                      (bkey, b))
                problems.append((inner_key, f"{inner} is inside {outer_key} {outer}: its photos would be seen "
                                            f"twice, with product keys that depend on the root; list only {outer}"))
    return problems


def _real(path: Path) -> Path:
    return Path(os.path.realpath(path))


def _within(path: Path, folder: Path) -> bool:
    """``path`` is ``folder`` or below it (after symbolic links)."""
    path, folder = _real(path), _real(folder)
    return path == folder or folder in path.parents


# --------------------------------------------------------------------------- messages

def _join(*parts: str) -> str:
    return ".".join(p for p in parts if p)


def _describe(exc: ValidationError, model: type[BaseModel], prefix: str = "") -> list[Problem]:
    problems = []
    for err in exc.errors(include_url=False):
        loc = [str(p) for p in err["loc"]]
        key = _join(prefix, *loc)
        msg, kind, given = err["msg"], err["type"], err.get("input")
        if kind == "extra_forbidden":
            msg = "unknown key" + _hint(model, err["loc"])
        elif kind == "value_error":
            msg = msg.removeprefix("Value error, ")
        elif not isinstance(given, (dict, list)):
            msg += f" (got {given!r})"
        problems.append((key, msg))
    return problems


def _did_you_mean(name: str, known: Iterable[str]) -> str:
    known = sorted(known)
    close = difflib.get_close_matches(name, known, n=1)
    return f" (did you mean {close[0]!r}?)" if close else f" (have: {', '.join(known)})"


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


# --------------------------------------------------------------------------- findings

def config_findings(config: Config, *, folders: bool = True, models: bool = True) -> list[Finding]:
    """What a valid config points to that is not usable yet (warnings) or
    worth knowing (notes): watch folders that cannot be created or read,
    segmenter models not fetched, the bundled placeholder logo. ``booth
    doctor`` checks folders and models itself, more closely, and turns those off."""
    found: list[Finding] = []
    if folders:
        found += _watch_folder_findings(config)
    if models:
        found += _model_findings(config)
    found += _placeholder_logo_findings(config)
    return found


def _watch_folder_findings(config: Config) -> list[Finding]:
    from daemon.doctor import User, check_folder  # the doctor's own check, for the service user

    user = User.named()
    found = []
    for i, path in enumerate(config.watch.paths):
        check = check_folder("watch", Path(path), os.R_OK | os.X_OK, user, create=True)
        if not check.ok:
            found.append(Finding("warning", f"watch.paths[{i}]", check.detail, check.fix))
    return found


def _model_findings(config: Config) -> list[Finding]:
    found, seen = [], set()
    for label, section in config.segmenter_configs().items():
        key = "segmenter" if label == DEFAULT_SEGMENTER else f"segmenters.{label}"
        if not section.is_onnx or (section.name, section.path) in seen:
            continue
        seen.add((section.name, section.path))
        if section.path is not None:
            if not Path(section.path).is_file():
                found.append(Finding("warning", f"{key}.path", f"model file {section.path} does not exist",
                                     f"copy the .onnx file there, or fix {key}.path"))
            continue
        try:
            from integrations.models import resolver
        except ImportError:  # a build without the model registry
            return found
        try:
            resolver(config.models_dir)(section.name)
        except Exception as exc:  # noqa: BLE001 - the registry's ModelError: not installed, unverified, mismatch
            reason = str(exc).partition("; run `")[0]  # the fix is given as the fix
            if not reason.startswith(section.name):
                reason = f"{section.name}: {reason}"
            found.append(Finding("warning", key, f"model {reason}", f"booth models fetch {section.name}"))
    return found


def _placeholder_logo_findings(config: Config) -> list[Finding]:
    users: dict[Path, list[str]] = {}
    for name, category in config.categories.items():
        logo = category.profile.brand.logo
        if logo is not None:
            users.setdefault(Path(logo.path), []).append(name)
    return [Finding("note", f"categories.{names[0]}.brand.logo.path",
                    f"{path} is the bundled placeholder logo (on {', '.join(names)})",
                    "put the store's own logo there, or point brand.logo.path at it")
            for path, names in users.items() if _is_placeholder(path)]


def _is_placeholder(path: Path) -> bool:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest() == PLACEHOLDER_LOGO_SHA256
    except OSError:
        return False
