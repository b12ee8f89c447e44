"""A settled file becomes a job: the one way a photo enters the journal, for
the watcher, ``booth reprocess`` and ``booth run --rebuild-journal`` alike.

The file is located under its watched root (the deepest one), hashed by
streaming, routed by its path below the root and the IPTC/XMP tags in its
first bytes, and recorded once per version
(sha256, path). The same bytes bound for the same product, view and place
under another name are recorded as a duplicate of the first and not
processed again.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from daemon import files
from daemon.config import Config
from daemon.journal import DONE, Job, Journal
from daemon.router import Route, Router


TAG_BYTES = 512 * 1024  # the IPTC/XMP segments sit at the start of the file


def photo_tags(path: Path) -> dict[str, str]:
    """The IPTC/XMP tags the booth wrote into the photo ({} when none, or unreadable)."""
    from pipeline.metadata import read_tags

    try:
        with open(path, "rb") as f:
            return read_tags(f.read(TAG_BYTES))
    except OSError:
        return {}


@dataclass(frozen=True)
class Recorded:
    job: Job
    created: bool               # a version not seen before
    route: Route
    duplicate_of: int | None = None


class Intake:
    def __init__(self, config: Config, journal: Journal, router: Router | None = None) -> None:
        self.config = config
        self.journal = journal
        self.router = router or Router(config.routes)

    def locate(self, path: Path) -> files.Located | None:
        return files.locate(path, self.config.watch.paths)

    def route(self, rel: str, tags: dict[str, str] | None = None) -> Route:
        return self.router.route(files.display(rel), tags)

    def record(self, path: Path, *, size: int | None = None, mtime_ns: int | None = None,
               located: files.Located | None = None) -> Recorded | None:
        """The job for this version of ``path`` (created when new); None when no
        watched root holds it. Raises OSError when the file cannot be read."""
        located = located or self.locate(path)
        if located is None:
            return None
        if size is None or mtime_ns is None:
            st = located.path.stat()
            size, mtime_ns = st.st_size, st.st_mtime_ns
        sha = files.sha256_file(located.path)
        route = self.route(located.rel, photo_tags(located.path))
        twin = self.journal.twin(sha, route.category, route.product_key, route.view, route.index, located.path)
        job, created = self.journal.add(sha, located.path, root=located.root, rel=files.display(located.rel),
                                        size=size, mtime_ns=mtime_ns, category=route.category,
                                        product_key=route.product_key, view=route.view, index=route.index,
                                        fields=route.fields, **({} if twin is None else {
                                            "state": DONE, "duplicate_of": twin.id, "output": twin.output}))
        return Recorded(job, created, route, twin.id if created and twin is not None else None)
