"""Create a bucket/container on the local servers; stdlib only.
Usage: python3 mkbucket.py ENDPOINTS_ENV NAME   (creates NAME on S3, GCS and Azure)"""
import base64, hashlib, hmac, sys, urllib.request, urllib.error, json
from email.utils import formatdate

def env(path):
    out = {}
    for line in open(path):
        if "=" in line:
            k, v = line.strip().split("=", 1); out[k] = v
    return out

def req(method, url, headers=None, data=None):
    r = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(r, timeout=10) as resp:
            return resp.status
    except urllib.error.HTTPError as e:
        return e.code

def s3(e, name):  # moto accepts an unsigned CreateBucket
    return req("PUT", f"{e['S3_ENDPOINT']}/{name}")

def gcs(e, name):  # JSON API, no auth on the emulator
    return req("POST", f"{e['GCS_ENDPOINT']}/storage/v1/b?project=test",
               {"Content-Type": "application/json"}, json.dumps({"name": name}).encode())

def azure(e, name):  # Shared Key signed "Create Container"
    acct, key = e["AZURE_STORAGE_ACCOUNT"], e["AZURE_STORAGE_KEY"]
    url = f"{e['AZURE_BLOB_ENDPOINT']}/{name}?restype=container"
    date, ver = formatdate(usegmt=True), "2021-08-06"
    path = urllib.parse.urlparse(url).path
    to_sign = "PUT\n" + "\n" * 11 + f"x-ms-date:{date}\nx-ms-version:{ver}\n" + f"/{acct}{path}\nrestype:container"
    sig = base64.b64encode(hmac.new(base64.b64decode(key), to_sign.encode(), hashlib.sha256).digest()).decode()
    return req("PUT", url, {"x-ms-date": date, "x-ms-version": ver, "Authorization": f"SharedKey {acct}:{sig}"})

if __name__ == "__main__":
    import urllib.parse
    e = env(sys.argv[1]); name = sys.argv[2]
    ok = {"s3": s3(e, name), "gcs": gcs(e, name), "azure": azure(e, name)}
    print(ok)
    # 409 = already exists, fine
    sys.exit(0 if all(c in (200, 201, 409) for c in ok.values()) else 1)
