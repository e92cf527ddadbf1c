"""A stand-in Hugging Face Hub for the publish tests: the endpoints the real ``huggingface_hub`` client
calls when it creates a repo and commits to it, served on loopback.

Why a stand-in: no self-hostable server accepts uploads from the real client offline (olah, the mirror
the pull tests use, is read-only), and tests must never reach huggingface.co. So this implements just
what ``HfApi.create_repo`` / ``create_commit`` / ``model_info`` and file downloads use, following
huggingface_hub 2.4's client code:

- ``POST /api/repos/create``                 create a model repo (409 when it exists)
- ``POST /api/validate-yaml``                the model card's metadata must be YAML with library_name
- ``POST /api/models/{repo}/preupload/{rev}`` every file is ``regular`` (committed inline, no LFS/Xet);
  an existing file's ``oid`` (its git blob id) is returned, which is how the client drops unchanged files
- ``POST /api/models/{repo}/commit/{rev}``    the ndjson commit: header, files (base64), deletions
- ``GET  /api/models/{repo}[/revision/{rev}]`` repo info: sha and siblings
- ``GET|HEAD /{repo}/resolve/{rev}/{path}``   a file, with X-Repo-Commit and ETag

Misses are answered as the Hub answers them, a 404 with ``X-Error-Code`` (``RepoNotFound``,
``RevisionNotFound``, ``EntryNotFound``) and ``X-Error-Message``, which huggingface_hub turns into its
``RepositoryNotFoundError``, ``RevisionNotFoundError`` and ``EntryNotFoundError``.

Every repo is a real git repository (``<root>/models/<org>/<name>``, commits made with git's plumbing),
so the same folder can be served read-only by olah for the pull side of the round trip, with the same
commit ids. Every request is recorded (method, path, headers) so tests can check what the client sent;
``fail_commits`` makes the next commits answer 500.
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

import yaml

GIT_ENV = {
    "GIT_AUTHOR_NAME": "hub",
    "GIT_AUTHOR_EMAIL": "hub@localhost",
    "GIT_COMMITTER_NAME": "hub",
    "GIT_COMMITTER_EMAIL": "hub@localhost",
    "GIT_AUTHOR_DATE": "2026-01-01T00:00:00Z",
    "GIT_COMMITTER_DATE": "2026-01-01T00:00:00Z",
}


def git(repo: Path, *args: str, stdin: bytes | None = None, env: dict | None = None) -> str:
    out = subprocess.run(
        ["git", "-C", str(repo), *args],
        input=stdin,
        capture_output=True,
        check=True,
        env={**os.environ, **GIT_ENV, **(env or {})},
    )
    return out.stdout.decode().strip()


class FakeHub:
    """The server's state: repos on disk, the requests seen, and failures to inject."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.requests: list[dict] = []
        self.fail_commits = 0
        self.lock = threading.Lock()
        self.server: ThreadingHTTPServer | None = None

    # --- repos --------------------------------------------------------------------------------------

    def repo_dir(self, repo_id: str) -> Path:
        return self.root / "models" / repo_id

    def exists(self, repo_id: str) -> bool:
        return (self.repo_dir(repo_id) / ".git").is_dir()

    def head(self, repo_id: str) -> str | None:
        try:
            return git(self.repo_dir(repo_id), "rev-parse", "--verify", "-q", "refs/heads/main") or None
        except subprocess.CalledProcessError:
            return None

    def commits(self, repo_id: str) -> list[str]:
        """Commit ids on main, newest first."""
        return git(self.repo_dir(repo_id), "rev-list", "refs/heads/main").split() if self.head(repo_id) else []

    def files(self, repo_id: str, rev: str = "main") -> dict[str, str]:
        """path → git blob id at ``rev``."""
        out = git(self.repo_dir(repo_id), "ls-tree", "-r", rev)
        return {line.split("\t", 1)[1]: line.split()[2] for line in out.splitlines() if line}

    def read(self, repo_id: str, path: str, rev: str = "main") -> bytes:
        return subprocess.run(
            ["git", "-C", str(self.repo_dir(repo_id)), "show", f"{rev}:{path}"], capture_output=True, check=True
        ).stdout

    def create(self, repo_id: str) -> None:
        d = self.repo_dir(repo_id)
        d.mkdir(parents=True)
        git(d, "init", "-q", "-b", "main")
        # the real Hub starts every repo with a .gitattributes commit
        self.commit(
            repo_id, {".gitattributes": b"*.zip filter=lfs diff=lfs merge=lfs -text\n"}, set(), "initial commit", None
        )

    def commit(self, repo_id: str, adds: dict[str, bytes], deletes: set[str], message: str, parent: str | None) -> str:
        d = self.repo_dir(repo_id)
        index = d / ".git" / "fakehub-index"
        env = {"GIT_INDEX_FILE": str(index)}
        index.unlink(missing_ok=True)
        if parent:
            git(d, "read-tree", parent, env=env)
        for path in sorted(deletes):
            git(d, "rm", "-q", "-r", "--cached", "--ignore-unmatch", "--", path, env=env)
        for path, content in sorted(adds.items()):
            blob = git(d, "hash-object", "-w", "--stdin", stdin=content)
            git(d, "update-index", "--add", "--cacheinfo", f"100644,{blob},{path}", env=env)
        tree = git(d, "write-tree", env=env)
        index.unlink(missing_ok=True)
        new = git(d, "commit-tree", tree, *(["-p", parent] if parent else []), "-m", message)
        git(d, "update-ref", "refs/heads/main", new, *([parent] if parent else []))
        return new

    # --- serving ------------------------------------------------------------------------------------

    def start(self, host: str = "127.0.0.1") -> str:
        hub = self

        class Handler(_Handler):
            state = hub

        self.server = ThreadingHTTPServer((host, 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self.url

    @property
    def url(self) -> str:
        if self.server is None:
            raise RuntimeError("the stand-in hub is not serving: call start() first")
        return f"http://{self.server.server_address[0]!s}:{self.server.server_port}"

    def stop(self) -> None:
        if self.server:
            self.server.shutdown()
            self.server.server_close()


class _Handler(BaseHTTPRequestHandler):
    state: FakeHub
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # quiet
        pass

    # --- helpers ------------------------------------------------------------------------------------

    def _body(self) -> bytes:
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def _send(
        self,
        status: int,
        body: bytes = b"",
        ctype: str = "application/json",
        headers: dict | None = None,
        head: bool = False,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def _json(self, status: int, obj, **kw) -> None:
        self._send(status, json.dumps(obj).encode(), **kw)

    def _error(self, status: int, message: str, headers: dict | None = None, **kw) -> None:
        self._json(status, {"error": message}, headers={"X-Error-Message": message, **(headers or {})}, **kw)

    def _record(self, body: bytes = b"") -> None:
        with self.state.lock:
            self.state.requests.append(
                {"method": self.command, "path": self.path, "headers": dict(self.headers), "body": body}
            )

    def _authorized(self) -> bool:
        if not self.headers.get("Authorization", "").startswith("Bearer "):
            self._error(401, "Invalid credentials in Authorization header")
            return False
        return True

    # --- routes -------------------------------------------------------------------------------------

    def do_POST(self):
        body = self._body()
        self._record(body)
        path = unquote(urlsplit(self.path).path)
        hub = self.state
        if path == "/api/repos/create":
            if not self._authorized():
                return
            req = json.loads(body)
            repo_id = f"{req.get('organization') or 'user'}/{req['name']}"
            with hub.lock:
                if hub.exists(repo_id):
                    return self._json(
                        409, {"error": "You already created this model repo", "url": f"{hub.url}/{repo_id}"}
                    )
                hub.create(repo_id)
            return self._json(200, {"url": f"{hub.url}/{repo_id}", "name": repo_id})
        if path == "/api/validate-yaml":
            content = json.loads(body)["content"]
            m = re.match(r"^---\n(.*?)\n---\n", content, re.S)
            try:
                meta = yaml.safe_load(m.group(1)) if m else None
            except yaml.YAMLError as exc:
                return self._json(400, {"errors": [{"message": f"invalid YAML: {exc}"}]})
            if not isinstance(meta, dict) or "library_name" not in meta:
                return self._json(400, {"errors": [{"message": "metadata needs library_name"}]})
            return self._json(200, {"errors": [], "warnings": []})
        m = re.match(r"^/api/models/([^/]+/[^/]+)/(preupload|commit)/(.+)$", path)
        if not m:
            return self._error(404, f"no route {path}")
        repo_id, action, rev = m.groups()
        if not self._authorized():
            return
        if not hub.exists(repo_id):
            return self._error(404, "Repository not found", headers={"X-Error-Code": "RepoNotFound"})
        if action == "preupload":
            existing = hub.files(repo_id, rev) if hub.head(repo_id) else {}
            files = [
                {"path": f["path"], "uploadMode": "regular", "shouldIgnore": False, "oid": existing.get(f["path"])}
                for f in json.loads(body)["files"]
            ]
            return self._json(200, {"files": files})
        return self._commit(repo_id, body)

    def _commit(self, repo_id: str, body: bytes):
        """The commit endpoint: an NDJSON header line, then one line per file added or deleted."""
        hub = self.state
        with hub.lock:
            if hub.fail_commits:
                hub.fail_commits -= 1
                return self._error(500, "Internal Error - injected commit failure")
            lines = [json.loads(line) for line in body.splitlines() if line.strip()]
            header = lines[0]["value"]
            parent = hub.head(repo_id)
            if header.get("parentCommit") and header["parentCommit"] != parent:
                return self._error(412, "A commit has happened since. Please refresh and try again.")
            adds, deletes = {}, set()
            for item in lines[1:]:
                key, value = item["key"], item["value"]
                if key == "file":
                    adds[value["path"]] = base64.b64decode(value["content"])
                elif key in ("deletedFile", "deletedFolder"):
                    deletes.add(value["path"])
                else:
                    return self._error(400, f"this stand-in does not accept {key} operations")
            msg = header["summary"] + (f"\n\n{header['description']}" if header.get("description") else "")
            oid = hub.commit(repo_id, adds, deletes, msg, parent)
        return self._json(
            200,
            {
                "success": True,
                "commitOid": oid,
                "commitUrl": f"{hub.url}/{repo_id}/commit/{oid}",
                "pullRequestUrl": None,
            },
        )

    def do_GET(self, head: bool = False):
        self._record()
        path = unquote(urlsplit(self.path).path)
        hub = self.state
        m = re.match(r"^/api/models/([^/]+/[^/]+?)(?:/revision/(.+))?$", path)
        if m:
            repo_id, rev = m.group(1), m.group(2) or "main"
            if not hub.exists(repo_id):
                return self._error(404, "Repository not found", headers={"X-Error-Code": "RepoNotFound"}, head=head)
            try:
                sha = git(hub.repo_dir(repo_id), "rev-parse", "--verify", f"{rev}^{{commit}}")
            except subprocess.CalledProcessError:  # an empty repo, or no such branch, tag or commit
                return self._error(404, "Revision not found", headers={"X-Error-Code": "RevisionNotFound"}, head=head)
            return self._json(
                200,
                {
                    "id": repo_id,
                    "modelId": repo_id,
                    "sha": sha,
                    "private": False,
                    "siblings": [{"rfilename": p} for p in sorted(hub.files(repo_id, sha))],
                },
                head=head,
            )
        m = re.match(r"^/([^/]+/[^/]+)/resolve/([^/]+)/(.+)$", path)
        if m:
            repo_id, rev, file = m.groups()
            if not hub.exists(repo_id):
                return self._error(404, "Repository not found", headers={"X-Error-Code": "RepoNotFound"}, head=head)
            try:
                sha = git(hub.repo_dir(repo_id), "rev-parse", "--verify", f"{rev}^{{commit}}")
                files = hub.files(repo_id, sha)
            except subprocess.CalledProcessError:
                return self._error(404, "Revision not found", headers={"X-Error-Code": "RevisionNotFound"}, head=head)
            if file not in files:
                return self._error(
                    404, "Entry not found", headers={"X-Error-Code": "EntryNotFound", "X-Repo-Commit": sha}, head=head
                )
            data = hub.read(repo_id, file, sha)
            return self._send(
                200,
                data,
                "application/octet-stream",
                head=head,
                headers={"X-Repo-Commit": sha, "ETag": f'"{files[file]}"'},
            )
        return self._error(404, f"no route {path}", head=head)

    def do_HEAD(self):
        self.do_GET(head=True)
