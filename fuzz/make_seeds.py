#!/usr/bin/env python3
"""Writes the seed corpora fuzz/corpus/<target>/ from the repository's own
small files (job specs, pools file, manifests, PGM images) plus tiny binary
files made here (PNG, IDX, safetensors, RPC call sequences). Deterministic;
rerun after changing a format. Needs protoc (RPC seeds) and, for IDX seeds,
the Fashion-MNIST files of dataset-fashion-mnist.

    python3 fuzz/make_seeds.py
"""
import gzip
import json
import os
import shutil
import struct
import subprocess
import zlib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORPUS = os.path.join(ROOT, "fuzz", "corpus")
FASHION = "/usr/share/datasets/fashion-mnist"


def out_dir(target):
    d = os.path.join(CORPUS, target)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    return d


def write(target_dir, name, data):
    with open(os.path.join(target_dir, name), "wb") as f:
        f.write(data)


def copy_repo_files(target, paths):
    d = out_dir(target)
    for p in paths:
        src = os.path.join(ROOT, p)
        shutil.copyfile(src, os.path.join(d, p.replace("/", "_")))
    return d


# ---- text formats: the repository's own files -------------------------------

def job_yaml():
    copy_repo_files("job_yaml", ["tests/data/jobs/tiny.yaml", "tests/data/config/bad_syntax.yaml",
                                 "examples/fashion-mllm.yaml", "examples/manifest-job.yaml",
                                 "examples/disttrain-7b.yaml"])


def pools_yaml():
    copy_repo_files("pools_yaml", ["deploy/local/pools.yaml"])


def manifest_jsonl():
    copy_repo_files("manifest_jsonl", ["examples/manifest/manifest.jsonl", "tests/data/config/manifest.jsonl"])


# ---- PNG / PGM ---------------------------------------------------------------

def png_chunk(kind, body):
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def png(width, height, bit_depth, color_type, rows, plte=None, trns=None, interlace=0):
    """rows: the raw bytes of each scanline (filter byte 0 is added here)."""
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, interlace)
    raw = b"".join(b"\x00" + r for r in rows)
    out = b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr)
    if plte is not None:
        out += png_chunk(b"PLTE", plte)
    if trns is not None:
        out += png_chunk(b"tRNS", trns)
    return out + png_chunk(b"IDAT", zlib.compress(raw)) + png_chunk(b"IEND", b"")


def image():
    d = copy_repo_files("image", ["examples/manifest/img00.pgm", "examples/manifest/img01.pgm"])
    g = bytes(range(0, 256, 16))
    write(d, "gray8.png", png(4, 4, 8, 0, [g[i * 4:(i + 1) * 4] for i in range(4)]))
    write(d, "gray16.png", png(2, 2, 16, 0, [b"\x00\x00\xff\xff", b"\x80\x00\x12\x34"]))
    write(d, "gray1.png", png(8, 2, 1, 0, [b"\xaa", b"\x55"]))
    write(d, "rgb8.png", png(2, 2, 8, 2, [b"\xff\x00\x00\x00\xff\x00", b"\x00\x00\xff\xff\xff\xff"]))
    write(d, "rgba8.png", png(2, 1, 8, 6, [b"\x10\x20\x30\x80\xff\xff\xff\x00"]))
    write(d, "graya8.png", png(2, 1, 8, 4, [b"\x10\x80\xf0\xff"]))
    write(d, "palette4.png", png(4, 1, 4, 3, [b"\x01\x23"], plte=b"\x00\x00\x00\xff\x00\x00\x00\xff\x00\x00\x00\xff",
                                  trns=b"\xff\x80"))
    write(d, "interlaced.png", png(1, 1, 8, 0, [b"\x7f"], interlace=1))
    write(d, "ascii.pgm", b"P2\n# comment\n3 2\n65535\n0 1000 65535\n7 8 9\n")
    write(d, "binary16.pgm", b"P5 2 1 1000\n" + struct.pack(">HH", 0, 1000))


# ---- IDX ---------------------------------------------------------------------

def idx():
    """First byte: 0 = images loader, 1 = labels loader (idx_fuzz.cc)."""
    d = out_dir("idx")
    with gzip.open(os.path.join(FASHION, "t10k-images-idx3-ubyte.gz")) as f:
        f.read(16)
        pixels = f.read(2 * 28 * 28)
    with gzip.open(os.path.join(FASHION, "t10k-labels-idx1-ubyte.gz")) as f:
        f.read(8)
        labels = f.read(4)
    images = struct.pack(">IIII", 0x803, 2, 28, 28) + pixels
    lab = struct.pack(">II", 0x801, 4) + labels
    write(d, "images.idx", b"\x00" + images)
    write(d, "images.idx.gz", b"\x00" + gzip.compress(images, mtime=0))
    write(d, "labels.idx", b"\x01" + lab)
    write(d, "labels.idx.gz", b"\x01" + gzip.compress(lab, mtime=0))
    write(d, "tiny.idx", b"\x00" + struct.pack(">IIII", 0x803, 1, 2, 3) + bytes(range(6)))


# ---- safetensors ---------------------------------------------------------------

def safetensors_bytes(tensors, metadata):
    header, data = {}, b""
    for name, shape, values in tensors:
        blob = struct.pack("<%df" % len(values), *values)
        header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [len(data), len(data) + len(blob)]}
        data += blob
    if metadata is not None:
        header["__metadata__"] = metadata
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + data


def safetensors():
    d = out_dir("safetensors")
    write(d, "two.safetensors", safetensors_bytes([("encoder.w", [2, 3], [0.5] * 6), ("encoder.b", [3], [1, 2, 3])],
                                                  {"step": "30", "layout": "1/1/1"}))
    write(d, "scalar.safetensors", safetensors_bytes([("s", [], [4.0]), ("e", [0], [])], None))
    write(d, "empty.safetensors", safetensors_bytes([], {}))


# ---- RPC call sequences (rpc_fuzz.cc) ------------------------------------------

METHODS = ["SubmitJob", "GetJob", "ListJobs", "CancelJob", "RegisterWorker", "Heartbeat", "GetAssignment",
           "ReportStep", "ReportFailure", "ReportDone", "SetKey", "GetKey", "Tick"]
PROTO_OF = {"SubmitJob": "job", "GetJob": "job", "ListJobs": "job", "CancelJob": "job", "SetKey": "rendezvous",
            "GetKey": "rendezvous"}
JOB_ID = "tiny-20231114-221320"  # name + LocalTimestamp(1.7e9) in UTC, as rpc_fuzz.cc's clock gives


def encode(method, text):
    if method == "Tick":
        return text  # raw: first byte = seconds to advance
    proto = PROTO_OF.get(method, "worker")
    msg = "braid.v1." + method + "Request"
    return subprocess.run(["protoc", "-I", os.path.join(ROOT, "proto"), "--encode=" + msg,
                           "braid/v1/%s.proto" % proto], input=text.encode(), check=True,
                          capture_output=True).stdout


def sequence(calls):
    out = b""
    for method, text in calls:
        body = encode(method, text)
        out += bytes([METHODS.index(method)]) + struct.pack("<H", len(body)) + body
    return out


def rpc():
    d = out_dir("rpc")
    with open(os.path.join(ROOT, "tests/data/jobs/tiny.yaml")) as f:
        yaml = f.read().replace("steps: 4", "steps: 2").replace("every: 2", "every: 1")
    submit = ("SubmitJob", "job_yaml: %s source_name: \"tiny.yaml\"" % json.dumps(yaml))
    register = [("RegisterWorker", "role: %s host: \"h\" pid: %d protocol_version: 1 name: \"%s-0\"" % (r, 100 + i, r))
                for i, r in enumerate(["MODULE_ENCODER", "MODULE_LLM", "MODULE_GENERATOR"])]
    tick = ("Tick", b"\x01")
    assign = [("GetAssignment", "worker_id: \"w-%d\"" % i) for i in (1, 2, 3)]

    def report(step, i, role, ckpt=False):
        return ("ReportStep",
                "worker_id: \"w-%d\" job_id: \"%s\" step: %d role: %s rank: 0 text_loss_sum: 3.5 gen_loss_sum: 0.25 "
                "global_text_targets: 10 global_gen_targets: 2 tokens: 40 sample_ids: [1, 2, 3] step_seconds: 0.5 "
                "spans { kind: KIND_COMPUTE microbatch: 0 start_seconds: 0 seconds: 0.25 } "
                "spans { kind: KIND_RECV_WAIT microbatch: 1 start_seconds: 0.25 seconds: 0.1 } "
                "grad_norm: 1.5 lr: 0.002 wrote_checkpoint: %s step_start_unix: 1700000000 "
                "transfer_seconds_min: 0.01 transfer_seconds_max: 0.02 messages: 4 plan_solve_ms: 1 "
                "plan_imbalance: [1.1, 1.2, 1.3] images: 6"
                % (i, JOB_ID, step, role, "true" if ckpt else "false"))

    roles = ["MODULE_ENCODER", "MODULE_LLM", "MODULE_GENERATOR"]
    write(d, "job_api.bin", sequence([submit, ("ListJobs", ""), ("GetJob", "job_id: \"%s\"" % JOB_ID),
                                      ("CancelJob", "job_id: \"%s\" reason: \"fuzz\"" % JOB_ID),
                                      ("GetJob", "job_id: \"%s\"" % JOB_ID)]))
    steps = [report(s, i + 1, r, ckpt=(s == 0)) for s in (0, 1) for i, r in enumerate(roles)]
    done = [("ReportDone", "worker_id: \"w-%d\" job_id: \"%s\"" % (i, JOB_ID)) for i in (1, 2, 3)]
    write(d, "train_job.bin", sequence([submit] + register + [tick] + assign +
                                       [("Heartbeat", "worker_id: \"w-1\" job_id: \"%s\" step: 0" % JOB_ID)] +
                                       steps + done + [("GetJob", "job_id: \"%s\"" % JOB_ID)]))
    write(d, "failure.bin", sequence([submit] + register + [tick] + assign + [report(0, 2, "MODULE_LLM")] +
                                     [("ReportFailure", "worker_id: \"w-2\" job_id: \"%s\" message: \"oom\"" % JOB_ID),
                                      ("Heartbeat", "worker_id: \"w-1\" job_id: \"%s\"" % JOB_ID), tick]))
    write(d, "dead_worker.bin", sequence([submit] + register + [tick, ("Tick", b"\x0a"),
                                                                ("Heartbeat", "worker_id: \"w-1\"")]))
    write(d, "rendezvous.bin", sequence([("SetKey", "key: \"job/%s/ucx/0\" value: \"addr\"" % JOB_ID),
                                         ("GetKey", "key: \"job/%s/ucx/0\" wait_seconds: 1" % JOB_ID),
                                         ("GetKey", "key: \"missing\" wait_seconds: 0")]))


if __name__ == "__main__":
    for make in (job_yaml, pools_yaml, manifest_jsonl, image, idx, safetensors, rpc):
        make()
    total = sum(os.path.getsize(os.path.join(dp, f)) for dp, _, fs in os.walk(CORPUS) for f in fs)
    print("fuzz/corpus: %d bytes" % total)
