"""Text as the review page shows it: file names, never the server's paths."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable
from pathlib import Path

# An absolute path that is not part of a URL or of a relative one: its folders are dropped.
_ABSOLUTE = re.compile(r"(?<![\w.~:/\\-])/(?:[^\s/\"'<>()\[\]]+/)+")


class Shown:
    """Configured once with the folders the daemon works in."""

    def __init__(self, folders: Iterable[str | Path], clock: Callable[[], float] = time.time) -> None:
        # the longest first: a folder inside another is named by its own name
        self._folders = sorted({str(Path(f)) for f in folders if f and str(Path(f)) != "/"}, key=len, reverse=True)
        self._clock = clock

    def text(self, value: object) -> str:
        """``value`` with every path in it cut to the folder the store knows and
        the file name (``/srv/booth/inbox/a.jpg`` -> ``inbox/a.jpg``)."""
        text = "" if value is None else str(value)
        for folder in self._folders:
            if folder in text:
                text = text.replace(folder + "/", Path(folder).name + "/").replace(folder, Path(folder).name)
        return _ABSOLUTE.sub("", text)

    @staticmethod
    def name(path: str | None) -> str:
        return Path(path).name if path else ""

    def ago(self, at: float | None) -> str:
        if not at:
            return ""
        seconds = max(0, int(self._clock() - at))
        if seconds < 60:
            return f"{seconds} s ago"
        if seconds < 3600:
            return f"{seconds // 60} min ago"
        if seconds < 86400:
            return f"{seconds // 3600} h {seconds % 3600 // 60} min ago"
        return f"{seconds // 86400} days ago"

    @staticmethod
    def when(at: float | None) -> str:
        return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(at)) if at else ""


def folders_of(config) -> list[Path]:
    """The folders of ``config`` whose paths may turn up in a job's text."""
    found = [config.state_dir, config.output.dir, getattr(config, "quarantine", None), config.archive_dir,
             getattr(config, "models_dir", None), *config.watch.paths]
    if getattr(config, "source", None):
        found.append(Path(config.source).parent)
    return [Path(p) for p in found if p]
