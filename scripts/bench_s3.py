"""A minimal S3 for scripts/bench_repack.py's multi-GiB repacks.

moto (the emulator's S3) keeps every object and every uploaded part in its
own memory and joins the parts on completion, so a 5 GiB artifact and its
repacked copy would need well over 10 GB in the emulator process; on the
bench machine that is most of its memory, and the emulator's own footprint
would swamp the figure being measured. This stand-in serves only what the
deployer calls on the models bucket, path-style, without checking
signatures:

* objects put with PutObject (deploy.json, code) are kept in memory; a large
  artifact is served from a file on disk (`put_file`), ranges included;
* HeadObject, GetObject (Range, If-Match), ListObjectsV2, DeleteObject;
* multipart uploads: each part is checked as it arrives (MD5 for its ETag)
  and fed, in part order, to a streaming reader of the tar.gz being written
  (gzip, then tar headers): member names and the SHA-256 of each member are
  kept, the bytes are not. The completed object is listed and HEAD-able but
  has no body.

Every request is counted by operation (`counts`), as the emulator counts.
Only the standard library is used.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
import uuid
import zlib
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit
from xml.sax.saxutils import escape

CHUNK = 1 << 20


@dataclass
class StoredObject:
    size: int
    etag: str
    modified: datetime
    data: bytes | None = None  # small objects
    path: str | None = None  # a large artifact on disk
    archive: dict | None = None  # what a multipart upload's tar.gz held


class TarGzReader:
    """Reads a .tar.gz fed in pieces: member names and SHA-256s, no bytes kept."""

    def __init__(self) -> None:
        self.inflate = zlib.decompressobj(31)
        self.pending = b""
        self.member: tuple[str, int, int, object] | None = None  # name, left, padding, digest
        self.members: dict[str, str | None] = {}
        self.ended = False

    def feed(self, data: bytes) -> None:
        self._tar(self.inflate.decompress(data))

    def finish(self) -> dict:
        self._tar(self.inflate.flush())
        return {"members": self.members, "ended": self.ended or not self.pending.strip(b"\0"),
                "gzip_complete": self.inflate.eof}

    def _tar(self, data: bytes) -> None:
        self.pending += data
        while True:
            if self.member is not None:
                name, left, padding, digest = self.member
                take = min(left, len(self.pending))
                if take:
                    digest.update(self.pending[:take])
                    self.pending = self.pending[take:]
                    left -= take
                if left:
                    self.member = (name, left, padding, digest)
                    return
                if len(self.pending) < padding:
                    self.member = (name, 0, padding, digest)
                    return
                self.pending = self.pending[padding:]
                self.members[name] = digest.hexdigest()
                self.member = None
            if len(self.pending) < 512 or self.ended:
                return
            header, self.pending = self.pending[:512], self.pending[512:]
            if header == b"\0" * 512:
                self.ended = True
                return
            name = header[:100].rstrip(b"\0").decode()
            prefix = header[345:500].rstrip(b"\0").decode()
            if prefix:
                name = f"{prefix}/{name}"
            size = int(header[124:136].rstrip(b"\0 ").decode() or "0", 8)
            kind = header[156:157]
            if kind == b"5":
                self.members[name.rstrip("/") + "/"] = None
                continue
            self.member = (name, size, (512 - size % 512) % 512, hashlib.sha256())


@dataclass
class Upload:
    bucket: str
    key: str
    reader: TarGzReader = field(default_factory=TarGzReader)
    next_part: int = 1
    waiting: dict = field(default_factory=dict)  # parts that came early
    etags: dict = field(default_factory=dict)
    size: int = 0


class StandInS3:
    """The server; `url` to point AWS_ENDPOINT_URL_S3 at."""

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], StoredObject] = {}
        self.uploads: dict[str, Upload] = {}
        self.counts: dict[str, int] = {}
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()

    def reset_counts(self) -> None:
        with self.lock:
            self.counts.clear()

    def put_bytes(self, bucket: str, key: str, data: bytes) -> StoredObject:
        obj = StoredObject(len(data), hashlib.md5(data).hexdigest(), _now(), data=data)
        self.objects[(bucket, key)] = obj
        return obj

    def put_file(self, bucket: str, key: str, path: str) -> StoredObject:
        digest = hashlib.md5()
        with open(path, "rb") as f:
            while chunk := f.read(8 * CHUNK):
                digest.update(chunk)
        obj = StoredObject(os.path.getsize(path), digest.hexdigest(), _now(), path=path)
        self.objects[(bucket, key)] = obj
        return obj

    def listed(self, bucket: str, prefix: str) -> dict[str, StoredObject]:
        return {k: o for (b, k), o in self.objects.items() if b == bucket and k.startswith(prefix)}

    # ------------------------------------------------------------------ HTTP
    def _handler(self):
        s3 = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *_args):
                pass

            def _route(self) -> tuple[str, str, dict]:
                parts = urlsplit(self.path)
                bucket, _, key = parts.path.lstrip("/").partition("/")
                query = {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
                return unquote(bucket), unquote(key), query

            def _count(self, op: str) -> None:
                with s3.lock:
                    s3.counts[op] = s3.counts.get(op, 0) + 1

            def _send(self, status: int, body: bytes = b"", headers: dict | None = None) -> None:
                self.send_response(status)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def _error(self, status: int, code: str) -> None:
                body = f'<?xml version="1.0"?><Error><Code>{code}</Code><Message>{code}</Message></Error>'
                self._send(status, body.encode(), {"Content-Type": "application/xml"})

            def _xml(self, body: str, headers: dict | None = None) -> None:
                self._send(200, ('<?xml version="1.0" encoding="UTF-8"?>' + body).encode(),
                           {"Content-Type": "application/xml", **(headers or {})})

            def _body(self) -> bytes:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                if "aws-chunked" in (self.headers.get("Content-Encoding") or "") or \
                        (self.headers.get("x-amz-content-sha256") or "").startswith("STREAMING-"):
                    return _dechunk(raw)
                return raw

            def do_HEAD(self):
                bucket, key, _ = self._route()
                self._count("HeadObject")
                obj = s3.objects.get((bucket, key))
                if obj is None:
                    return self._error(404, "NoSuchKey")
                self.send_response(200)
                for name, value in _object_headers(obj).items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(obj.size))
                self.end_headers()

            def do_GET(self):
                bucket, key, query = self._route()
                if not key and query.get("list-type") == "2":
                    self._count("ListObjectsV2")
                    return self._list(bucket, query.get("prefix", ""))
                self._count("GetObject")
                obj = s3.objects.get((bucket, key))
                if obj is None or (obj.data is None and obj.path is None):
                    return self._error(404, "NoSuchKey")
                match = self.headers.get("If-Match")
                if match and match.strip('"') != obj.etag:
                    return self._error(412, "PreconditionFailed")
                start, end, status = 0, obj.size - 1, 200
                headers = _object_headers(obj)
                if rng := self.headers.get("Range"):
                    start, end = _range(rng, obj.size)
                    status = 206
                    headers["Content-Range"] = f"bytes {start}-{end}/{obj.size}"
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(end - start + 1))
                self.end_headers()
                if obj.data is not None:
                    self.wfile.write(obj.data[start:end + 1])
                    return
                with open(obj.path, "rb") as f:
                    f.seek(start)
                    left = end - start + 1
                    while left > 0:
                        chunk = f.read(min(left, CHUNK))
                        if not chunk:
                            break
                        self.wfile.write(chunk)
                        left -= len(chunk)

            def _list(self, bucket: str, prefix: str) -> None:
                rows = "".join(
                    f"<Contents><Key>{escape(k)}</Key><LastModified>{_iso(o.modified)}</LastModified>"
                    f"<ETag>&quot;{o.etag}&quot;</ETag><Size>{o.size}</Size>"
                    f"<StorageClass>STANDARD</StorageClass></Contents>"
                    for k, o in sorted(s3.listed(bucket, prefix).items()))
                count = len(s3.listed(bucket, prefix))
                self._xml(f"<ListBucketResult><Name>{escape(bucket)}</Name><Prefix>{escape(prefix)}</Prefix>"
                          f"<KeyCount>{count}</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated>"
                          f"{rows}</ListBucketResult>")

            def do_PUT(self):
                bucket, key, query = self._route()
                if "uploadId" in query:
                    self._count("UploadPart")
                    return self._part(query["uploadId"], int(query["partNumber"]))
                if not key:
                    self._count("CreateBucket")
                    self._body()
                    return self._send(200)
                self._count("PutObject")
                obj = s3.put_bytes(bucket, key, self._body())
                self._send(200, headers={"ETag": f'"{obj.etag}"'})

            def _part(self, upload_id: str, number: int) -> None:
                data = self._body()
                upload = s3.uploads.get(upload_id)
                if upload is None:
                    return self._error(404, "NoSuchUpload")
                etag = hashlib.md5(data).hexdigest()
                with s3.lock:
                    if number not in upload.etags:
                        upload.etags[number] = etag
                        upload.size += len(data)
                        upload.waiting[number] = data
                        while upload.next_part in upload.waiting:
                            upload.reader.feed(upload.waiting.pop(upload.next_part))
                            upload.next_part += 1
                self._send(200, headers={"ETag": f'"{etag}"'})

            def do_POST(self):
                bucket, key, query = self._route()
                body = self._body()
                if "uploads" in query:
                    self._count("CreateMultipartUpload")
                    upload_id = uuid.uuid4().hex
                    s3.uploads[upload_id] = Upload(bucket, key)
                    return self._xml(f"<InitiateMultipartUploadResult><Bucket>{escape(bucket)}</Bucket>"
                                     f"<Key>{escape(key)}</Key><UploadId>{upload_id}</UploadId>"
                                     f"</InitiateMultipartUploadResult>")
                if "uploadId" in query:
                    self._count("CompleteMultipartUpload")
                    upload = s3.uploads.pop(query["uploadId"], None)
                    if upload is None:
                        return self._error(404, "NoSuchUpload")
                    named = [int(n) for n in re.findall(rb"<PartNumber>(\d+)</PartNumber>", body)]
                    if named != sorted(upload.etags) or upload.waiting:
                        return self._error(400, "InvalidPart")
                    joined = b"".join(bytes.fromhex(upload.etags[n]) for n in named)
                    etag = f"{hashlib.md5(joined).hexdigest()}-{len(named)}"
                    s3.objects[(bucket, key)] = StoredObject(upload.size, etag, _now(),
                                                             archive=upload.reader.finish())
                    return self._xml(f"<CompleteMultipartUploadResult><Bucket>{escape(bucket)}</Bucket>"
                                     f"<Key>{escape(key)}</Key><ETag>&quot;{etag}&quot;</ETag>"
                                     f"</CompleteMultipartUploadResult>")
                self._count("Unknown")
                self._error(400, "NotImplemented")

            def do_DELETE(self):
                bucket, key, query = self._route()
                if "uploadId" in query:
                    self._count("AbortMultipartUpload")
                    s3.uploads.pop(query["uploadId"], None)
                else:
                    self._count("DeleteObject")
                    s3.objects.pop((bucket, key), None)
                self._send(204)

        return Handler


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0)


def _iso(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _object_headers(obj: StoredObject) -> dict:
    return {"ETag": f'"{obj.etag}"', "Last-Modified": format_datetime(obj.modified, usegmt=True),
            "Content-Type": "application/octet-stream", "Accept-Ranges": "bytes",
            "x-amz-version-id": "null"}


def _range(header: str, size: int) -> tuple[int, int]:
    """`bytes=a-b`, `bytes=a-` or `bytes=-n` as inclusive (start, end)."""
    first, _, last = header.removeprefix("bytes=").partition("-")
    if not first:
        return max(size - int(last), 0), size - 1
    return int(first), min(int(last), size - 1) if last else size - 1


def _dechunk(raw: bytes) -> bytes:
    """The payload of an aws-chunked body (`<hex>[;chunk-signature=..]\\r\\n<data>\\r\\n`...)."""
    out, at = [], 0
    while True:
        line_end = raw.index(b"\r\n", at)
        size = int(raw[at:line_end].split(b";")[0], 16)
        at = line_end + 2
        if size == 0:
            return b"".join(out)
        out.append(raw[at:at + size])
        at += size + 2

