# SPDX-License-Identifier: MIT
"""Just enough protobuf encoding (stdlib only) for tests to build the messages
baton accepts: HealthReport/HealthReportBody/CheckResult of proto/baton.proto.
Field numbers here must match the .proto file."""
import hashlib
import hmac


def _varint(v):
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _key(field, wire):
    return _varint((field << 3) | wire)


def field_varint(field, v):
    return _key(field, 0) + _varint(int(v))


def field_bytes(field, b):
    if isinstance(b, str):
        b = b.encode()
    return _key(field, 2) + _varint(len(b)) + b


def check_result(name, kind, ok, critical=False, detail=None, pg_role=None, lag_bytes=None, lag_ms=None):
    m = field_bytes(1, name) + field_bytes(2, kind) + field_varint(3, 1 if ok else 0)
    m += field_varint(4, 1 if critical else 0)
    if detail is not None:
        m += field_bytes(5, detail)
    if pg_role is not None:
        m += field_bytes(7, pg_role)
    if lag_bytes is not None:
        m += field_varint(8, lag_bytes)
    if lag_ms is not None:
        m += field_varint(9, lag_ms)
    return m


def health_report_body(region, reporter, seq, sent_at_ms, checks=(), critical=False):
    m = field_bytes(1, region) + field_bytes(2, reporter) + field_varint(3, seq) + field_varint(4, sent_at_ms)
    for c in checks:
        m += field_bytes(5, c)
    m += field_varint(6, 1 if critical else 0)
    return m


def health_report(body, key, key_id=None):
    mac = hmac.new(key, body, hashlib.sha256).digest()
    m = field_bytes(1, body) + field_bytes(2, mac)
    if key_id is not None:
        m += field_bytes(3, key_id)
    return m
