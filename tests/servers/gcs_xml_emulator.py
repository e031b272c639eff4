"""gcp-storage-emulator + the GCS *XML* API subset that object_store 0.13 speaks.

Why: object_store's GCS client (gcp/client.rs) talks the XML API only
(PUT/GET/HEAD/DELETE /{bucket}/{object}, GET /{bucket}?list-type=2, ?uploads
multipart, x-goog-copy-source, x-goog-if-generation-match). gcp-storage-emulator
2026.7.19 implements the JSON API; on the XML paths it answers PUT without ETag,
GET without Last-Modified, and 501 for HEAD/DELETE/list/multipart. fake-gcs-server
1.54 answers every XML PUT "400 invalid uploadType". Neither honours
ifGenerationMatch=0 even on the JSON API.

This launcher keeps the emulator's JSON API (so python clients / gcsfs can seed and
read the same buckets) and replaces its XML object route with a fuller one, on the
same storage. Connections are accepted by a threading server but requests are
handled one at a time (a lock), so the generation preconditions are atomic.

Usage: python gcs_xml_emulator.py HOST PORT      (in-memory, no buckets;
       create one with POST /storage/v1/b?project=x {"name": ...})
"""
import base64
import hashlib
import re
import sys
import threading
import time
import uuid
import xml.etree.ElementTree as ET
from datetime import datetime, timezone
from email.utils import format_datetime, parsedate_to_datetime
from functools import partial
from http import HTTPStatus
from http.server import ThreadingHTTPServer
from urllib.parse import parse_qsl, unquote
from xml.sax.saxutils import escape

from gcp_storage_emulator import server as S
from gcp_storage_emulator.exceptions import NotFound
from gcp_storage_emulator.handlers import objects as O

UPLOADS = {}  # upload_id -> {"bucket", "key", "parts": {n: bytes}, "ctype"}


def _query(request):
    # the emulator's parse_qs drops blank values: "?uploads" would vanish
    return dict(parse_qsl(request._parsed_url.query, keep_blank_values=True))


def _raw(request):
    return S._read_raw_data(request._request_handler) or b""


def _etag(obj):
    return '"{}"'.format(base64.b64decode(obj["md5Hash"]).hex())


def _updated(obj):
    return datetime.strptime(obj["updated"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)


def _xml(response, status, body):
    response.status = status
    response.write_file('<?xml version="1.0" encoding="UTF-8"?>' + body, "application/xml")


def _error(response, status, code, msg=""):
    _xml(response, status, "<Error><Code>{}</Code><Message>{}</Message></Error>".format(code, escape(msg)))


def _current(storage, bucket, key):
    try:
        return storage.get_file_obj(bucket, key)
    except NotFound:
        return None


def _precondition_ok(request, cur):
    """x-goog-if-generation-match: 0 = must not exist; N = current generation must be N."""
    want = request.get_header("x-goog-if-generation-match")
    if want is None:
        return True
    if want.strip() == "0":
        return cur is None
    return cur is not None and cur["generation"] == want.strip()


def _store(request, response, storage, bucket, key, content, ctype):
    if bucket not in storage.buckets:
        return _error(response, HTTPStatus.NOT_FOUND, "NoSuchBucket", bucket)
    obj = O._make_object_resource(request.base_url, bucket, key, ctype, str(len(content)))
    obj = O._checksums(content, obj)
    storage.create_file(bucket, key, content, obj)
    response["ETag"] = _etag(obj)
    response["x-goog-generation"] = obj["generation"]
    response["x-goog-metageneration"] = "1"
    return obj


def xml_bucket(request, response, storage, *args, **kwargs):
    # object_store percent-encodes the bucket's `-` (`no%2Dsuch`): GCS decodes it
    bucket = unquote(request.params["bucket_name"])
    q = _query(request)
    if request.method != "GET":
        return _error(response, HTTPStatus.NOT_IMPLEMENTED, "NotImplemented")
    prefix = q.get("prefix") or None
    delimiter = q.get("delimiter") or None
    try:
        objs, prefixes = storage.get_file_list(bucket, prefix, delimiter)
    except NotFound:
        return _error(response, HTTPStatus.NOT_FOUND, "NoSuchBucket", bucket)
    # one sorted stream of keys and common prefixes, paged by max-keys
    entries = sorted([(o["name"], o) for o in objs] + [(p, None) for p in prefixes], key=lambda e: e[0])
    after = q.get("continuation-token") or q.get("start-after")
    if after:
        entries = [e for e in entries if e[0] > after]
    max_keys = int(q.get("max-keys", "1000"))
    page, rest = entries[:max_keys], entries[max_keys:]
    body = ["<ListBucketResult xmlns=\"http://doc.s3.amazonaws.com/2006-03-01\">",
            "<Name>{}</Name><Prefix>{}</Prefix><KeyCount>{}</KeyCount><MaxKeys>{}</MaxKeys>".format(
                escape(bucket), escape(prefix or ""), len(page), max_keys),
            "<IsTruncated>{}</IsTruncated>".format("true" if rest else "false")]
    for name, o in page:
        if o is None:
            body.append("<CommonPrefixes><Prefix>{}</Prefix></CommonPrefixes>".format(escape(name)))
        else:
            body.append("<Contents><Key>{}</Key><Generation>{}</Generation><LastModified>{}</LastModified>"
                        "<ETag>{}</ETag><Size>{}</Size></Contents>".format(
                            escape(name), o["generation"],
                            _updated(o).strftime("%Y-%m-%dT%H:%M:%S.%fZ")[:-4] + "Z",
                            escape(_etag(o)), o["size"]))
    if rest:
        body.append("<NextContinuationToken>{}</NextContinuationToken>".format(escape(page[-1][0])))
    body.append("</ListBucketResult>")
    _xml(response, HTTPStatus.OK, "".join(body))


def xml_object(request, response, storage, *args, **kwargs):
    bucket, key = unquote(request.params["bucket_name"]), request.params["object_id"]
    q = _query(request)
    m = request.method
    ctype = request.get_header("Content-Type", "application/octet-stream")
    cur = _current(storage, bucket, key)

    if m == "POST" and "uploads" in q:
        if bucket not in storage.buckets:
            return _error(response, HTTPStatus.NOT_FOUND, "NoSuchBucket", bucket)
        _raw(request)
        uid = uuid.uuid4().hex
        UPLOADS[uid] = {"bucket": bucket, "key": key, "parts": {}, "ctype": ctype}
        return _xml(response, HTTPStatus.OK,
                    "<InitiateMultipartUploadResult><Bucket>{}</Bucket><Key>{}</Key><UploadId>{}</UploadId>"
                    "</InitiateMultipartUploadResult>".format(escape(bucket), escape(key), uid))
    if m == "PUT" and "uploadId" in q and "partNumber" in q:
        up = UPLOADS.get(q["uploadId"])
        if up is None:
            return _error(response, HTTPStatus.NOT_FOUND, "NoSuchUpload")
        data = _raw(request)
        up["parts"][int(q["partNumber"])] = data
        response["ETag"] = '"{}"'.format(hashlib.md5(data).hexdigest())
        return
    if m == "POST" and "uploadId" in q:
        up = UPLOADS.get(q["uploadId"])
        if up is None:
            return _error(response, HTTPStatus.NOT_FOUND, "NoSuchUpload")
        root = ET.fromstring(_raw(request))
        nums = [int(e.text) for e in root.iter() if e.tag.endswith("PartNumber")]
        if not nums or any(n not in up["parts"] for n in nums):
            return _error(response, HTTPStatus.BAD_REQUEST, "InvalidPart")
        if not _precondition_ok(request, cur):
            return _error(response, HTTPStatus.PRECONDITION_FAILED, "PreconditionFailed")
        content = b"".join(up["parts"][n] for n in sorted(nums))
        obj = _store(request, response, storage, bucket, key, content, up["ctype"])
        del UPLOADS[q["uploadId"]]
        return _xml(response, HTTPStatus.OK,
                    "<CompleteMultipartUploadResult><Bucket>{}</Bucket><Key>{}</Key><ETag>{}</ETag>"
                    "</CompleteMultipartUploadResult>".format(escape(bucket), escape(key), escape(_etag(obj))))
    if m == "DELETE" and "uploadId" in q:
        UPLOADS.pop(q["uploadId"], None)
        response.status = HTTPStatus.NO_CONTENT
        return
    if m == "PUT":
        src = request.get_header("x-goog-copy-source")
        if src:
            sb, _, sk = unquote(src).lstrip("/").partition("/")
            scur = _current(storage, sb, sk)
            if scur is None:
                return _error(response, HTTPStatus.NOT_FOUND, "NoSuchKey", sk)
            content = storage.get_file(sb, sk)
            ctype = scur.get("contentType") or ctype
        else:
            content = _raw(request)
        if not _precondition_ok(request, cur):
            return _error(response, HTTPStatus.PRECONDITION_FAILED, "PreconditionFailed")
        obj = _store(request, response, storage, bucket, key, content, ctype)
        if src and obj:
            _xml(response, HTTPStatus.OK, "<CopyObjectResult><ETag>{}</ETag></CopyObjectResult>".format(
                escape(_etag(obj))))
        return
    if m == "DELETE":
        if cur is None:
            return _error(response, HTTPStatus.NOT_FOUND, "NoSuchKey", key)
        storage.delete_file(bucket, key)
        response.status = HTTPStatus.NO_CONTENT
        return
    if m in ("GET", "HEAD"):
        if cur is None or ("generation" in q and q["generation"] != cur["generation"]):
            response.status = HTTPStatus.NOT_FOUND
            if m == "GET":
                _error(response, HTTPStatus.NOT_FOUND, "NoSuchKey", key)
            return
        etag, updated = _etag(cur), _updated(cur).replace(microsecond=0)
        im, inm = request.get_header("If-Match"), request.get_header("If-None-Match")
        ims, ius = request.get_header("If-Modified-Since"), request.get_header("If-Unmodified-Since")
        if im and im not in ("*", etag):
            return _error(response, HTTPStatus.PRECONDITION_FAILED, "PreconditionFailed")
        if ius and updated > parsedate_to_datetime(ius):
            return _error(response, HTTPStatus.PRECONDITION_FAILED, "PreconditionFailed")
        if (inm and inm in ("*", etag)) or (ims and updated <= parsedate_to_datetime(ims)):
            response.status = HTTPStatus.NOT_MODIFIED
            response["ETag"] = etag
            return
        content = storage.get_file(bucket, key)
        size = len(content)
        response["ETag"] = etag
        response["Last-Modified"] = format_datetime(updated, usegmt=True)
        response["x-goog-generation"] = cur["generation"]
        response["x-goog-metageneration"] = cur.get("metageneration", "1")
        response["x-goog-stored-content-length"] = str(size)
        response["Accept-Ranges"] = "bytes"
        rng = request.get_header("Range")
        if rng:
            mm = re.fullmatch(r"\s*bytes=(\d*)-(\d*)\s*", rng)
            if not mm:
                return _error(response, HTTPStatus.BAD_REQUEST, "InvalidRange")
            a, b = mm.groups()
            if a == "":
                start, end = max(0, size - int(b)), size - 1
            else:
                start, end = int(a), min(size - 1, int(b)) if b else size - 1
            if start >= size:
                response["Content-Range"] = "bytes */{}".format(size)
                return _error(response, HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE, "InvalidRange")
            content = content[start:end + 1]
            response["Content-Range"] = "bytes {}-{}/{}".format(start, end, size)
            response.status = HTTPStatus.PARTIAL_CONTENT
        response.write_file(content, cur.get("contentType") or "application/octet-stream")
        if m == "HEAD":
            response._head_only = True
        return
    return _error(response, HTTPStatus.NOT_IMPLEMENTED, "NotImplemented")


def _close(self):
    """Response.close that can answer HEAD: headers (with the real length), no body."""
    content = self._content
    if isinstance(content, str):
        content = content.encode("utf-8")
    self._handler.send_response(self.status.value, self.status.phrase)
    for k, v in self._headers.items():
        self._handler.send_header(k, v)
    self._handler.send_header("Content-Length", str(len(content)))
    self._handler.end_headers()
    if not getattr(self, "_head_only", False) and self._handler.command != "HEAD":
        self._handler.wfile.write(content)


class _Server(ThreadingHTTPServer):
    # the stock emulator uses a single-threaded HTTPServer with a listen backlog of 5:
    # 16 concurrent clients got connection resets and object_store retried with backoff
    request_queue_size = 256
    daemon_threads = True


_LOCK = threading.Lock()
_handle = S.Router.handle


def _locked_handle(self, method):
    # accept connections in parallel, handle one request at a time: the
    # generation preconditions stay atomic
    with _LOCK:
        _handle(self, method)


def _run(self):
    self._httpd = _Server((self._host, self._port), partial(S.RequestHandler, self._storage))
    self.is_running.set()
    self._httpd.serve_forever()


def install():
    stock = r"^/(?P<bucket_name>[-.\w]+)/(?P<object_id>.*[^/]+)$"
    public = r"^/(?P<bucket_name>[-.%\w]+)/(?P<object_id>.*[^/]+)$"
    verbs = {v: xml_object for v in ("GET", "HEAD", "PUT", "POST", "DELETE")}
    handlers = [h for h in S.HANDLERS if h[0] != stock]
    handlers.append((r"^/(?P<bucket_name>[-.%\w]+)/?$", {"GET": xml_bucket}))
    handlers.append((public, verbs))
    S.HANDLERS = tuple(handlers)
    S.Response.close = _close
    S.RequestHandler.do_HEAD = lambda self: S.Router(self).handle("HEAD")
    S.Router.handle = _locked_handle
    S.APIThread.run = _run


if __name__ == "__main__":
    install()
    host, port = sys.argv[1], int(sys.argv[2])
    srv = S.create_server(host, port, in_memory=True)
    srv.start()
    print("gcs-xml emulator on http://{}:{}".format(host, port), flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        srv.stop()
