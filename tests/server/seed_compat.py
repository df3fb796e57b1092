#!/usr/bin/python3
"""The seeds' Python clients against a running edgefleet server (SPEC section 4).

The client code below is the seeds' (edge-cloud-synchronization.txt: OTAUpdateClient,
EdgeDataCollector.get_sync_batch's shape; edge-cloud-hybrid-anomaly-detector.txt: the
/classify, /model/version, /model/download and /model/thresholds calls), unchanged except:
  - every aiohttp.ClientSession carries the device's bearer token
    (ClientSession(headers={"Authorization": "Bearer ..."})), the one change the server needs;
  - the seeds left _load_current_version, _get_ram_mb, _get_firmware_version, _test_model
    and _compute_sha256 to the reader: they are filled in here.
Beyond the seeds' own code, it checks what they rely on: the manifest's eight fields, its
Ed25519 signature (with the openssl command), a download resumed with Range (206), the
update history the server kept, and the fleet view (admin token).

Run by tests/server/server_e2e_test.cc with Debian's /usr/bin/python3 and python3-aiohttp.
Exit 0 and "seed_compat: all checks passed" on success.
"""
import argparse
import asyncio
import base64
import hashlib
import json
import math
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

import aiohttp

AUTH = {}  # set in main(): {"Authorization": "Bearer <device token>"}


def check(cond, what):
    if not cond:
        print(f"seed_compat: FAILED: {what}", file=sys.stderr)
        sys.exit(1)
    print(f"ok  {what}")


# ---- the seeds' OTA client (edge-cloud-synchronization.txt) -------------------------------

class UpdateStatus(Enum):
    PENDING = "pending"
    DOWNLOADING = "downloading"
    VALIDATING = "validating"
    APPLYING = "applying"
    ACTIVE = "active"
    ROLLED_BACK = "rolled_back"
    FAILED = "failed"


@dataclass
class ModelManifest:
    """Describes a model version for OTA distribution."""
    model_id: str
    version: str
    url: str  # CDN URL for download
    sha256: str  # Integrity check
    size_bytes: int
    min_device_ram_mb: int
    min_firmware_version: str
    rollout_percentage: int  # 0-100, for staged rollouts


class OTAUpdateClient:
    def __init__(self, device_id: str, server_url: str, model_dir: str):
        self.device_id = device_id
        self.server_url = server_url
        self.model_dir = Path(model_dir)
        self.current_version = self._load_current_version()
        self.last_signature = None

    async def check_for_update(self) -> ModelManifest | None:
        """Poll server for available updates."""
        async with aiohttp.ClientSession(headers=AUTH) as session:
            resp = await session.get(
                f"{self.server_url}/api/updates/check",
                params={
                    "device_id": self.device_id,
                    "current_version": self.current_version,
                    "device_ram_mb": self._get_ram_mb(),
                    "firmware_version": self._get_firmware_version(),
                }
            )
            data = await resp.json()
            if data.get("update_available"):
                self.last_signature = data["signature"]
                return ModelManifest(**data["manifest"])
            return None

    async def apply_update(self, manifest: ModelManifest) -> bool:
        """Download, validate, and swap to new model."""
        new_path = self.model_dir / f"model_v{manifest.version}.tflite"
        old_path = self.model_dir / "model_current.tflite"
        backup_path = self.model_dir / "model_backup.tflite"
        try:
            await self._report_status(UpdateStatus.DOWNLOADING)
            await self._download_with_resume(manifest.url, new_path, manifest.size_bytes)
            await self._report_status(UpdateStatus.VALIDATING)
            actual_hash = self._compute_sha256(new_path)
            if actual_hash != manifest.sha256:
                raise ValueError(f"Hash mismatch: {actual_hash} != {manifest.sha256}")
            test_output = self._test_model(new_path)
            if test_output is None:
                raise ValueError("Model failed validation inference")
            await self._report_status(UpdateStatus.APPLYING)
            if old_path.exists():
                old_path.rename(backup_path)
            new_path.rename(old_path)
            self.current_version = manifest.version
            await self._report_status(UpdateStatus.ACTIVE)
            return True
        except Exception as e:
            if backup_path.exists() and not old_path.exists():
                backup_path.rename(old_path)
            await self._report_status(UpdateStatus.FAILED, error=str(e))
            return False

    async def _download_with_resume(self, url: str, path: Path, total_size: int):
        """Download with resume support for unreliable connections."""
        existing_size = path.stat().st_size if path.exists() else 0
        headers = {}
        if existing_size > 0:
            headers["Range"] = f"bytes={existing_size}-"
        async with aiohttp.ClientSession(headers=AUTH) as session:
            async with session.get(url, headers=headers) as resp:
                self.last_download_status = resp.status
                mode = "ab" if existing_size > 0 else "wb"
                with open(path, mode) as f:
                    async for chunk in resp.content.iter_chunked(64 * 1024):
                        f.write(chunk)

    async def _report_status(self, status: UpdateStatus, error: str = None):
        """Report update progress to cloud."""
        async with aiohttp.ClientSession(headers=AUTH) as session:
            resp = await session.post(
                f"{self.server_url}/api/updates/status",
                json={
                    "device_id": self.device_id,
                    "status": status.value,
                    "version": self.current_version,
                    "error": error,
                }
            )
            check(resp.status == 200, f"status report {status.value} accepted")

    # What the seeds leave to the device.
    def _load_current_version(self):
        return 0

    def _get_ram_mb(self):
        return 512

    def _get_firmware_version(self):
        return "1.0.0"

    def _compute_sha256(self, path: Path) -> str:
        return hashlib.sha256(path.read_bytes()).hexdigest()

    def _test_model(self, path: Path):
        data = path.read_bytes()
        return data if data[:4] == b"EFM1" or len(data) > 0 else None


def verify_manifest_signature(manifest: dict, signature_b64: str, public_key: str) -> bool:
    canonical = json.dumps(manifest, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    with tempfile.TemporaryDirectory() as tmp:
        m = Path(tmp) / "manifest.json"
        s = Path(tmp) / "sig.bin"
        m.write_bytes(canonical)
        s.write_bytes(base64.b64decode(signature_b64))
        r = subprocess.run(["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", public_key, "-rawin",
                            "-in", str(m), "-sigfile", str(s)], capture_output=True)
        return r.returncode == 0


# ---- the checks -------------------------------------------------------------------------

def window():
    # A fan-like window: 100 samples of x, y, z at 200 Hz, interleaved, in g.
    out = []
    for i in range(100):
        t = i / 200.0
        out += [0.02 * math.sin(2 * math.pi * 12 * t), 0.015 * math.cos(2 * math.pi * 12 * t),
                1.0 + 0.01 * math.sin(2 * math.pi * 24 * t)]
    return out


async def hybrid_client(url: str, device: str):
    """The hybrid detector's calls (the ESP32 and the FastAPI seed's fields)."""
    async with aiohttp.ClientSession(headers=AUTH) as session:
        async with session.post(f"{url}/classify", json={
                "device_id": device, "features": window(), "edge_mse": 0.021, "model_version": 1}) as resp:
            check(resp.status == 200, "POST /classify answers 200")
            data = await resp.json()
            check(set(["classification", "label", "confidence", "mse", "model_version"]) <= set(data),
                  "classify answers classification, label, confidence, mse, model_version")
            check(data["classification"] in ("normal", "anomaly"), "classification is normal or anomaly")
            check(data["label"] == (1 if data["classification"] == "anomaly" else 0), "label matches")
            check(0.0 <= data["confidence"] <= 1.0, "confidence in [0, 1]")
        # The FastAPI seed's request model has no model_version: accepted too.
        async with session.post(f"{url}/classify", json={
                "device_id": device, "features": window(), "edge_mse": 0.5}) as resp:
            check(resp.status == 200, "POST /classify without model_version answers 200")
        async with session.get(f"{url}/model/version") as resp:
            data = await resp.json()
            check(resp.status == 200 and {"version", "filename", "size_bytes"} <= set(data),
                  "GET /model/version answers version, filename, size_bytes")
            version = data["version"]
        async with session.get(f"{url}/model/version", params={"device_id": device}) as resp:
            check(resp.status == 200 and (await resp.json())["version"] == version, "GET /model/version?device_id=")
        async with session.get(f"{url}/model/thresholds") as resp:
            data = await resp.json()
            check({"version", "low_threshold", "high_threshold", "mu", "sigma", "k_low", "k_high"} <= set(data),
                  "GET /model/thresholds answers the seven fields")
            check(data["low_threshold"] <= data["high_threshold"], "low_threshold <= high_threshold")
        async with session.get(f"{url}/model/download") as resp:
            body = await resp.read()
            check(resp.status == 200 and len(body) > 0, "GET /model/download answers the artifact")
            etag = resp.headers.get("ETag")
        async with session.get(f"{url}/model/download", headers={"If-None-Match": etag}) as resp:
            check(resp.status == 304, "If-None-Match with the ETag answers 304")
    return version


async def sync_client(url: str):
    """A batch in the shape of the seeds' EdgeDataCollector.get_sync_batch, posted twice."""
    raw = b"".join(__import__("struct").pack("<f", v) for v in window())
    batch = {"metadata": [{"id": i, "timestamp": 1700000000.25 + i, "model_version": 1,
                           "prediction": "normal", "confidence": 0.93, "latency_ms": 1.5} for i in range(1, 4)],
             "hard_samples": [{"id": 1, "timestamp": 1700000001.5, "input_data": base64.b64encode(raw).decode(),
                               "prediction": "normal", "confidence": 0.6}]}
    async with aiohttp.ClientSession(headers=AUTH) as session:
        async with session.post(f"{url}/api/sync", json=batch) as resp:
            check(resp.status == 200, "POST /api/sync (the seeds' batch shape) answers 200")
            ack = await resp.json()
            check(ack["inferences"]["stored"] == [[1, 3]] and ack["hard_samples"]["stored"] == [[1, 1]],
                  "the acknowledgement names the stored rows")
        async with session.post(f"{url}/api/sync", json=batch) as resp:
            ack = await resp.json()
            check(ack["inferences"]["stored"] == [] and ack["inferences"]["already_present"] == [[1, 3]],
                  "a replayed batch stores nothing and is acknowledged as present")


async def ota_client(url: str, device: str, artifact: str, public_key: str, admin: str):
    with tempfile.TemporaryDirectory() as model_dir:
        client = OTAUpdateClient(device, url, model_dir)
        manifest = await client.check_for_update()
        check(manifest is not None, "check_for_update offers the published model (ModelManifest(**manifest) built)")
        async with aiohttp.ClientSession(headers=AUTH) as session:
            resp = await session.get(f"{url}/api/updates/check", params={
                "device_id": device, "current_version": 0, "device_ram_mb": 512, "firmware_version": "1.0.0"})
            data = await resp.json()
        check(len(data["manifest"]) == 8, "the manifest has exactly eight fields")
        check(verify_manifest_signature(data["manifest"], data["signature"], public_key),
              "the manifest's Ed25519 signature verifies (openssl) with the server's public key")
        check(manifest.sha256 == hashlib.sha256(Path(artifact).read_bytes()).hexdigest(),
              "the manifest's sha256 is the published artifact's")

        # An interrupted download: the first 1,000 bytes, then the seeds' resume.
        partial = Path(model_dir) / f"model_v{manifest.version}.tflite"
        async with aiohttp.ClientSession(headers=AUTH) as session:
            async with session.get(manifest.url) as resp:
                partial.write_bytes(await resp.content.readexactly(1000))
        check(partial.stat().st_size == 1000, "a partial download of 1,000 bytes")
        ok = await client.apply_update(manifest)
        check(client.last_download_status == 206, "the resumed download got 206 Partial Content")
        check(ok, "apply_update succeeded (sha256 of the resumed file matches)")
        check(client.current_version == manifest.version, "the client runs the new version")
        check(await client.check_for_update() is None, "no update offered once up to date")

    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {admin}"}) as session:
        async with session.get(f"{url}/api/devices/{device}") as resp:
            d = await resp.json()
            check(d["reported_model_version"] == manifest.version, "the server's view is the reported version")
            statuses = [e["status"] for e in d["ota_history"]]
            check(statuses == ["downloading", "validating", "applying", "active"],
                  f"the update history is kept ({statuses})")
        async with session.get(f"{url}/api/devices") as resp:
            check(resp.status == 200 and any(x["id"] == device for x in (await resp.json())["devices"]),
                  "GET /api/devices lists the device")
        async with session.get(f"{url}/metrics") as resp:
            text = await resp.text()
            check("edgefleet_escalations_queued_total" in text, "GET /metrics is Prometheus text")


async def main_async(args):
    await hybrid_client(args.url, args.device)
    await sync_client(args.url)
    await ota_client(args.url, args.device, args.artifact, args.public_key, args.admin_token)
    # Without the bearer header the server refuses, with a JSON error.
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{args.url}/model/version") as resp:
            check(resp.status == 401 and (await resp.json())["error"] == "unauthenticated",
                  "no token: 401 with a JSON error")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--url", required=True)
    p.add_argument("--token", required=True)
    p.add_argument("--admin-token", required=True)
    p.add_argument("--device", required=True)
    p.add_argument("--artifact", required=True)
    p.add_argument("--public-key", required=True)
    args = p.parse_args()
    AUTH["Authorization"] = f"Bearer {args.token}"
    asyncio.run(main_async(args))
    print("seed_compat: all checks passed")


if __name__ == "__main__":
    main()
