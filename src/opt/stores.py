"""Shared database stores (SQLite, PostgreSQL): driver-explicit URLs and a lock for their first use.

PostgreSQL URLs are handed to SQLAlchemy with the psycopg2 driver named (``postgresql+psycopg2://``):
SQLAlchemy 2.1 otherwise picks psycopg 3, which opt does not depend on (:func:`sqlalchemy_url`).

Processes that start together on an empty store race its schema creation: MLflow's SQLite/PostgreSQL
store runs its migrations when it finds no tables, and a second process can see the tables of a
half-migrated database and skip the rest. :func:`init_lock` serializes that first contact:

- a SQLite database: ``fcntl.flock`` on a ``.init.lock`` file beside it (one host), e.g. ``mlruns/.init.lock``;
- PostgreSQL: a session-level advisory lock in that database (any number of hosts).

Other URLs (MySQL, HTTP tracking servers, journal files, which lock themselves) get no lock.

Before opt creates or uses its stores (:func:`check_stores`, called first by ``run``):

- the Optuna storage and the MLflow store must be two databases (:func:`check_separate`): both manage
  their schema with Alembic in one ``alembic_version`` table, so sharing a database breaks both; a
  PostgreSQL database that already holds the other tool's tables is refused too (:func:`check_store_owner`:
  the same database under another host name, or a team server's backend store named as ``search.storage``);
- an HTTP tracking server must answer one quick request (:func:`check_tracking_server`): MLflow itself
  retries an unreachable server for minutes;
- a store about to be created needs ``paths.min_free_mb`` free on its filesystem (:func:`ensure_free_space`).

A new SQLite database is created and migrated under a temporary name beside its target and renamed into
place only once complete (:func:`create_sqlite_atomically`), so an interrupted migration (a full disk)
never leaves a half-migrated store behind. :func:`disk_full_message` turns a full-disk failure from
anywhere (``ENOSPC``, SQLite's "database or disk is full") into one line naming the place.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import re
import shutil
import ssl
import time
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import unquote, urlsplit

from omegaconf import DictConfig, OmegaConf

from opt.errors import ConfigError, OptError
from opt.secrets import mask_url

__all__ = ["init_lock", "lock_file_of", "sqlalchemy_url", "is_postgres", "DiskFullError",
           "ensure_free_space", "create_sqlite_atomically", "check_separate", "check_tracking_server",
           "check_stores", "disk_full_message", "sqlite_file", "is_server", "experiment_location",
           "check_experiment_location", "check_store_owner"]

#: name of the lock file created beside a SQLite database or a journal file
LOCK_NAME = ".init.lock"


_PG_SCHEMES = ("postgresql://", "postgres://", "postgresql+psycopg2://")


def is_postgres(url: str) -> bool:
    """Whether ``url`` names a PostgreSQL database."""
    return url.startswith(_PG_SCHEMES)


def sqlalchemy_url(url: str) -> str:
    """``url`` for SQLAlchemy: ``postgresql://``/``postgres://`` become ``postgresql+psycopg2://``."""
    if is_postgres(url):
        return "postgresql+psycopg2://" + url.split("://", 1)[1]
    return url


def libpq_url(url: str) -> str:
    """``url`` for psycopg2 itself (``postgresql://...``, no driver name)."""
    return "postgresql://" + url.split("://", 1)[1]


def lock_file_of(uri: str) -> Path | None:
    """The lock file guarding a ``sqlite:///PATH`` URL (``.init.lock`` beside PATH), else None."""
    if uri.startswith("sqlite:///"):
        return Path(uri[len("sqlite:///"):]).parent / LOCK_NAME
    return None


def _advisory_key(name: str) -> int:
    """A stable ``pg_advisory_lock`` key for ``name`` (its CRC32)."""
    return zlib.crc32(f"opt-init:{name}".encode())


@contextlib.contextmanager
def _flock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


@contextlib.contextmanager
def _pg_advisory(url: str, name: str) -> Iterator[None]:
    import psycopg2

    con = psycopg2.connect(url)
    con.autocommit = True
    try:
        with con.cursor() as cur:
            cur.execute("SELECT pg_advisory_lock(%s)", (_advisory_key(name),))
        yield
    finally:
        con.close()  # closing the session releases its advisory locks


@contextlib.contextmanager
def init_lock(uri: str, *, name: str) -> Iterator[None]:
    """Hold an exclusive cross-process lock for the first contact with the store at ``uri``.

    Args:
        uri: a ``sqlite:///PATH`` or ``postgresql://...`` (``postgres://``, ``postgresql+psycopg2://``) URL.
        name: what is being initialized (``"mlflow"``, ``"optuna"``): the PostgreSQL advisory lock key.

    Raises:
        psycopg2.Error: the PostgreSQL server cannot be reached.
    """
    path = lock_file_of(uri)
    if path is not None:
        with _flock(path):
            yield
    elif is_postgres(uri):
        with _pg_advisory(libpq_url(uri), name):
            yield
    else:
        yield


# --- passwords, database identity ------------------------------------------------------------------

def sqlite_file(url: str) -> Path | None:
    """The database file of a ``sqlite:///PATH`` URL (query string dropped), else None."""
    if not url.startswith("sqlite:///"):
        return None
    return Path(url[len("sqlite:///"):].split("?", 1)[0])


_DEFAULT_PORTS = {"postgresql": 5432, "mysql": 3306}
_LOOPBACK = {"", "localhost", "127.0.0.1", "::1", "[::1]"}


def _database_of(url: str | None, journal: Path | None = None) -> tuple[str, ...] | None:
    """What identifies the database of ``url``: a resolved file, or (family, host, port, name); else None."""
    if url is None:
        return ("file", str(journal.resolve())) if journal is not None else None
    db = sqlite_file(url)
    if db is not None:
        return ("file", str(db.resolve()))
    if url.startswith("journal:") or url.endswith((".log", ".journal")):
        return ("file", str(Path(url.removeprefix("journal:")).resolve()))
    scheme = url.split("://", 1)[0].split("+", 1)[0].lower()
    family = {"postgres": "postgresql"}.get(scheme, scheme)
    if family not in _DEFAULT_PORTS:
        return None
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    host = "localhost" if host in _LOOPBACK else host
    port = parts.port or _DEFAULT_PORTS[family]
    name = unquote(parts.path.lstrip("/")) or unquote(parts.username or "")  # libpq: dbname defaults to the user
    return (family, host, str(port), name)


def check_separate(cfg: DictConfig) -> None:
    """Refuse ``search.storage`` and ``tracking.uri`` naming the same database.

    Raises:
        ConfigError: both name one SQLite file, or one PostgreSQL/MySQL database (same host, port and name).
    """
    storage = OmegaConf.select(cfg, "search.storage")
    journal = Path(str(cfg.paths.experiments)) / "optuna-journal.log"
    optuna_db = _database_of(None if storage is None else str(storage), journal)
    mlflow_db = _database_of(str(cfg.tracking.uri))
    if optuna_db is None or optuna_db != mlflow_db:
        return
    raise ConfigError(
        f"search.storage={mask_url(str(storage))!r} and tracking.uri={mask_url(str(cfg.tracking.uri))!r} "
        "name the same database: Optuna and MLflow each manage their own schema in it with Alembic (one "
        "alembic_version table), so they break each other (e.g. \"Can't locate revision identified by ...\"). "
        "Use two databases, e.g. search.storage=postgresql://USER@HOST:PORT/optuna and "
        "tracking.uri=postgresql://USER@HOST:PORT/mlflow, or search.storage=sqlite:///experiments/optuna.db with "
        "the default tracking.uri (sqlite:///mlruns/mlflow.db)")


#: tables that mark a PostgreSQL database as one tool's store (a subset of what each creates)
_OWN_TABLES = {"Optuna": ("studies", "trials", "version_info"), "MLflow": ("experiments", "runs", "metrics")}


def _tables(url: str) -> set[str] | None:
    """The tables of the current schema of PostgreSQL database ``url``; None when it cannot be read."""
    import psycopg2

    try:
        con = psycopg2.connect(libpq_url(url), connect_timeout=5)
    except psycopg2.Error:
        return None  # opening the store reports it, with its own message
    try:
        with con.cursor() as cur:
            cur.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()")
            return {str(row[0]) for row in cur.fetchall()}
    except psycopg2.Error:
        return None
    finally:
        con.close()


def check_store_owner(url: str, key: str, owner: str) -> None:
    """Refuse a PostgreSQL database for ``owner``'s store that already holds the other tool's tables.

    :func:`check_separate` compares two URLs; this looks into the database itself, so it also finds one
    database reached under two host names, and the database of a team's ``mlflow server`` (which opt
    only knows as ``tracking.uri=http://...``) named again as ``search.storage``. Other URLs, and a
    database that cannot be reached (its opening reports that), pass.

    Args:
        url: the store's URL (``postgresql://...``; others pass).
        key: the setting that names it (``search.storage``, ``tracking.uri``).
        owner: ``"Optuna"`` or ``"MLflow"``: whose store it is meant to be.

    Raises:
        ConfigError: naming ``key``, the other tool's tables found there, why that breaks, and what to do.
    """
    if not is_postgres(url):
        return
    other = "MLflow" if owner == "Optuna" else "Optuna"
    found = sorted(set(_OWN_TABLES[other]) & (_tables(url) or set()))
    if len(found) < len(_OWN_TABLES[other]):
        return
    whose = ("probably the backend store of a tracking server (mlflow server --backend-store-uri) or of "
             "tracking.uri" if other == "MLflow" else "probably search.storage's")
    raise ConfigError(
        f"{key}={mask_url(url)!r} is a database that holds {other}'s tables ({', '.join(found)}: {whose}). "
        f"{owner} cannot share it: Optuna and MLflow each manage their schema with Alembic in one alembic_version "
        "table, so they break each other (\"Can't locate revision identified by ...\"). Give each its own "
        "database on the same server: CREATE DATABASE optuna; CREATE DATABASE mlflow; then "
        "search.storage=postgresql://USER@HOST:PORT/optuna and tracking.uri=postgresql://USER@HOST:PORT/mlflow "
        "(or a tracking server started with --backend-store-uri postgresql+psycopg2://USER@HOST:PORT/mlflow)")


# --- the HTTP tracking server ------------------------------------------------------------------------

TRACKING_CHECK_TIMEOUT_S = 5.0
_REACHABLE: set[str] = set()


def check_tracking_server(uri: str, *, timeout: float = TRACKING_CHECK_TIMEOUT_S) -> None:
    """One quick request to an ``http(s)://`` tracking server (``GET <uri>/health``); other URIs pass.

    Any HTTP answer below 500 counts as reachable (a 401 or 404 is MLflow's to report, at once), and so
    does a TLS handshake that fails on the certificate (MLflow has its own settings for that).

    Raises:
        ConfigError: no answer within ``timeout`` seconds, a refused connection, or a 5xx answer
            (naming the URL, its password masked).
    """
    if not uri.startswith(("http://", "https://")) or uri in _REACHABLE:
        return
    import base64
    import urllib.error
    import urllib.request

    parts = urlsplit(uri)
    netloc = parts.netloc.rsplit("@", 1)[-1]
    health = parts._replace(netloc=netloc, path=parts.path.rstrip("/") + "/health", query="", fragment="")
    request = urllib.request.Request(health.geturl(), method="GET")
    if parts.username is not None:
        token = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
        request.add_header("Authorization", "Basic " + base64.b64encode(token).decode())
    start = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=timeout):  # noqa: S310 - the user's http(s) URL
            pass
    except urllib.error.HTTPError as exc:
        if exc.code >= 500:
            raise ConfigError(f"tracking.uri={mask_url(uri)!r}: the tracking server answered {exc.code} "
                              f"{exc.reason}; check the server's logs") from None
    except (OSError, ValueError) as exc:  # URLError, timeouts, refused connections, a malformed URL
        reason = getattr(exc, "reason", exc)
        if isinstance(reason, ssl.SSLError):  # a TLS server answered: its certificate is MLflow's business
            _REACHABLE.add(uri)              # (MLFLOW_TRACKING_INSECURE_TLS, MLFLOW_TRACKING_SERVER_CERT_PATH)
            return
        raise ConfigError(
            f"tracking.uri={mask_url(uri)!r}: no MLflow tracking server answers there ({mask_url(str(reason))}; "
            f"{time.monotonic() - start:.1f} s). Start it (mlflow server --host HOST --port PORT) or fix the URL; "
            "the default tracking.uri (sqlite:///mlruns/mlflow.db) needs no server") from None
    _REACHABLE.add(uri)


def is_server(uri: str) -> bool:
    """Whether ``uri`` names an MLflow tracking server (``http://`` or ``https://``)."""
    return str(uri).lower().startswith(("http://", "https://"))


def experiment_location(uri: str, name: str, artifact_root: str) -> str | None:
    """The ``artifact_location`` opt gives a new MLflow experiment ``name`` in the store ``uri``.

    - ``artifact_root`` with a scheme (``s3://...``, ``file:///nfs/...``): itself, whatever the store;
    - a tracking server (``http(s)://``): None, so the server puts the experiment under its own artifact
      root (``mlflow server --artifacts-destination``: proxied ``mlflow-artifacts:/<id>``) and every
      machine reads and writes artifacts through the server; a local ``artifact_root`` is not used;
    - a database store: ``<artifact_root>/<name>`` as an absolute ``file://`` URI.
    """
    if "://" in artifact_root:
        return artifact_root
    if is_server(uri):
        return None
    return (Path(artifact_root).resolve() / name).as_uri()


def _opt_local_location(location: str, name: str) -> bool:
    """Whether ``location`` is a local folder as opt made them for experiment ``name`` (``file:///.../<name>``).

    A server's own default root gives ``<root>/<experiment id>`` instead, which is left to its admin
    (``mlflow server --default-artifact-root`` on a folder every machine mounts).
    """
    parts = urlsplit(location)
    return parts.scheme.lower() in ("", "file") and unquote(parts.path).rstrip("/").rsplit("/", 1)[-1] == name


def check_experiment_location(uri: str, name: str, location: str, artifact_root: str) -> None:
    """Refuse a tracking server's experiment whose artifacts live in a local folder of some machine.

    An experiment made by an opt that did not yet leave artifacts to the server has an
    ``artifact_location`` like ``file:///home/ann/study/mlruns/artifacts/NAME``: each machine would
    write its trial artifacts to its own disk, invisible to the team. MLflow cannot move an experiment's
    artifact location, so opt refuses it, unless ``tracking.artifact_root`` names that very location
    (a folder every machine mounts). Other stores, and experiments the server placed itself (under its
    artifact root, ``.../<experiment id>``), pass.

    Raises:
        ConfigError: naming ``tracking.experiment``, the location, and what to do.
    """
    if not is_server(uri) or not _opt_local_location(location, name) or location == artifact_root:
        return
    raise ConfigError(
        f"tracking.experiment={name!r} on the tracking server {mask_url(uri)} keeps its artifacts in the local "
        f"folder {location} (made by an older opt, or with a local tracking.artifact_root): each machine would "
        "write its trial artifacts to its own disk, out of the team's reach. Use a new experiment, e.g. "
        f"search.study_name={name}-2 (or tracking.experiment=NAME), which opt creates under the server's "
        "artifact root (mlflow server --artifacts-destination DIR); or, if every machine mounts that folder, "
        f"pass tracking.artifact_root={location}")


# --- free space, atomic creation ------------------------------------------------------------------

class DiskFullError(OptError):
    """Too little free space to create a store (names the place, the free and the needed space)."""

    precise = True  # its message is the whole story: :func:`disk_full_message` leaves it alone


def _existing(path: Path) -> Path:
    """``path`` or its nearest existing ancestor."""
    path = path.absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def free_mb(path: Path) -> float:
    """Free megabytes on the filesystem holding ``path`` (or its nearest existing ancestor)."""
    return shutil.disk_usage(_existing(path)).free / 2**20


def ensure_free_space(path: Path, min_mb: float, what: str) -> None:
    """Refuse to create ``what`` at ``path`` when its filesystem has less than ``min_mb`` MB free.

    Raises:
        DiskFullError: "disk full at <folder>: N MB free, opt needs M MB to create <what>".
    """
    free = free_mb(path)
    if free < float(min_mb):
        raise DiskFullError(
            f"disk full at {_existing(path)}: {free:.1f} MB free, opt needs {float(min_mb):g} MB to create {what} "
            f"({path}; paths.min_free_mb). Free some space, or point paths.experiments / paths.mlruns at a "
            "bigger disk, and rerun")


def _remove_sqlite(db: Path) -> None:
    for suffix in ("", "-journal", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)


def create_sqlite_atomically(db: Path, build: Callable[[str], Callable[[], None]]) -> bool:
    """Create the SQLite store ``db`` under a temporary name beside it, then rename it into place.

    Args:
        db: the database file; nothing is done when it exists and is not empty.
        build: given ``sqlite:///<temporary file>``, creates and migrates the store there and returns a
            function that closes every connection to it.

    Returns:
        Whether the store was created.

    Raises:
        Exception: what ``build`` raised (the temporary file is removed; ``db`` does not exist).
    """
    if db.is_file() and db.stat().st_size > 0:
        return False
    db.parent.mkdir(parents=True, exist_ok=True)
    tmp = db.with_name(f".{db.name}.creating-{os.getpid()}")
    _remove_sqlite(tmp)
    try:
        build(f"sqlite:///{tmp.absolute()}")()
        os.replace(tmp, db)
    finally:
        _remove_sqlite(tmp)
    return True


# --- all checks before a run; full-disk messages ------------------------------------------------------

def _new_local_stores(cfg: DictConfig) -> list[tuple[Path, str]]:
    """The local store files of ``cfg`` that do not exist yet, with what each is."""
    storage = OmegaConf.select(cfg, "search.storage")
    stores: list[tuple[Path, str]] = []
    if storage is None or str(storage).startswith("journal:") or str(storage).endswith((".log", ".journal")):
        journal = (Path(str(storage).removeprefix("journal:")) if storage
                   else Path(str(cfg.paths.experiments)) / "optuna-journal.log")
        stores.append((journal, "the Optuna journal"))
    elif (db := sqlite_file(str(storage))) is not None:
        stores.append((db, "the Optuna SQLite storage"))
    if (db := sqlite_file(str(cfg.tracking.uri))) is not None:
        stores.append((db, "the MLflow store"))
    return [(p, what) for p, what in stores if not (p.is_file() and p.stat().st_size > 0)]


def check_stores(cfg: DictConfig) -> None:
    """What ``run`` checks before anything else: separate databases, a reachable tracking server, free space.

    Raises:
        ConfigError: one database for both stores (by URL, or a PostgreSQL database that holds the other
            tool's tables: :func:`check_store_owner`), or an HTTP tracking server that does not answer.
        DiskFullError: a store to be created on a filesystem with less than ``paths.min_free_mb`` free.
    """
    check_separate(cfg)
    check_tracking_server(str(cfg.tracking.uri))
    storage = OmegaConf.select(cfg, "search.storage")
    if storage is not None:
        check_store_owner(str(storage), "search.storage", "Optuna")
    check_store_owner(str(cfg.tracking.uri), "tracking.uri", "MLflow")
    for path, what in _new_local_stores(cfg):
        ensure_free_space(path, float(cfg.paths.min_free_mb), what)


_FULL_TEXT = re.compile(r"No space left on device|database or disk is full|disk quota exceeded", re.IGNORECASE)
_FILENAME = re.compile(r"No space left on device: '([^']+)'|sqlite:///([^'\"\s?]+)")


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        e = todo.pop(0)
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        yield e
        todo += [e.__cause__, e.__context__, getattr(e, "orig", None)]


def _store_places(cfg: DictConfig) -> list[Path]:
    places = [Path(str(OmegaConf.select(cfg, key))) for key in ("paths.experiments", "paths.mlruns")
              if OmegaConf.select(cfg, key) is not None]
    for key in ("search.storage", "tracking.uri"):
        url = OmegaConf.select(cfg, key)
        if url is not None and (db := sqlite_file(str(url))) is not None:
            places.append(db)
    storage = OmegaConf.select(cfg, "search.storage")
    if storage is not None and (str(storage).startswith("journal:") or str(storage).endswith((".log", ".journal"))):
        places.append(Path(str(storage).removeprefix("journal:")))
    return places


def disk_full_message(exc: BaseException, cfg: DictConfig | None = None) -> str | None:
    """"disk full at <path> (N MB free): <error>" when ``exc`` (or what caused it) is a full disk, else None.

    The path is the file the error names, else the fullest of the places ``cfg`` stores things. An error
    whose class says ``precise = True`` (:class:`DiskFullError`, a corrupt journal's error, whose message
    may quote a record that mentions a full disk) keeps its own message.
    """
    if getattr(exc, "precise", False):
        return None
    chain = list(_chain(exc))
    enospc = next((e for e in chain if isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EDQUOT)), None)
    said = next((e for e in chain if _FULL_TEXT.search(str(e))), None)
    if enospc is None and said is None:
        return None
    where = str(enospc.filename) if enospc is not None and enospc.filename else None
    for e in chain:
        match = None if where else _FILENAME.search(str(e))
        if match:
            where = next(g for g in match.groups() if g)
    found = exc if _FULL_TEXT.search(str(exc)) else (said or enospc or exc)
    free = ""
    try:
        if where is None and cfg is not None:
            places = _store_places(cfg)
            if places:
                place = min(places, key=free_mb)
                where = str(place)
        if where is not None:
            free = f" ({free_mb(Path(where)):.1f} MB free)"
    except Exception:  # noqa: BLE001 - the message must come out whatever the config holds
        pass
    first = (str(found).strip().splitlines() or [type(found).__name__])[0][:300]
    return (f"disk full at {where or 'an unknown place'}{free}: {first}. Free some space (or point paths.experiments / "
            "paths.mlruns at a bigger disk) and rerun the same command: a study resumes where it stopped")
