"""The blob store on S3-compatible object storage: the one module that knows the object layout.

    <prefix>blobs/<algorithm>/<first two hex>/<hex>          committed blobs
    <prefix>uploads/<upload id>/started                      marks that the upload exists (it may be empty)
    <prefix>uploads/<upload id>/part-<offset, 16 digits>     the bytes written from that offset on

Object stores cannot append, so an upload is a run of part objects, each holding the bytes one
writer wrote from one offset (cut into pieces of `part_size`). Any node can list them to learn the
upload's size, continue it, read it back, or commit it: nothing about an upload lives in one process.
Appending at an earlier offset deletes the parts after it and shortens the part it falls in.

A commit makes the blob visible in one atomic step of the store (a copy of a single part, a
multipart upload whose completion publishes every byte at once, or one put for an empty blob), so a
reader sees all the bytes or none. Parts of at least `MIN_COPY_PART` are copied server side; smaller
ones (a chunked upload with small chunks) are read back and re-sent in parts of `part_size`.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from moorage.domain.digests import Digest
from moorage.storage.blobstore import BlobLocation, BlobNotFound

MIN_COPY_PART = 5 << 20
"""S3's smallest part of a multipart upload (except the last one)."""
MAX_COPY_OBJECT = 5 << 30
"""The largest object one server-side copy may create."""
DEFAULT_PART_SIZE = 8 << 20
READ_CHUNK = 1 << 20
MAX_SIGNED_URLS = 10_000
_NOT_FOUND = {"404", "NoSuchKey", "NotFound", "NoSuchUpload"}


@dataclass(frozen=True)
class Part:
    key: str
    offset: int
    size: int

    @property
    def end(self) -> int:
        return self.offset + self.size


class S3UploadWriter:
    """Buffers one writer's bytes and stores them as part objects of up to `part_size` bytes."""

    def __init__(self, store: S3BlobStore, upload_id: str, offset: int) -> None:
        self._store = store
        self._upload_id = upload_id
        self._offset = offset
        self._buffer = bytearray()

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self._buffer += data
        while len(self._buffer) >= self._store.part_size:
            self._flush(self._store.part_size)

    def _flush(self, size: int) -> None:
        piece = bytes(self._buffer[:size])
        self._store._put(self._store._part_key(self._upload_id, self._offset), piece)
        del self._buffer[:size]
        self._offset += len(piece)

    def close(self) -> None:
        if self._buffer:
            self._flush(len(self._buffer))


class S3BlobStore:
    """Blobs as objects in one bucket, under an optional key prefix (see the module docstring)."""

    def __init__(
        self,
        client: Any,
        bucket: str,
        prefix: str = "",
        part_size: int = DEFAULT_PART_SIZE,
        redirect_seconds: int | None = None,
    ) -> None:
        """`client` is a boto3 S3 client; `redirect_seconds` set makes `locate` answer presigned URLs."""
        if part_size < MIN_COPY_PART:
            raise ValueError(f"part_size must be at least {MIN_COPY_PART} bytes")
        self.client = client
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.part_size = part_size
        self.redirect_seconds = redirect_seconds
        self._signed: dict[str, tuple[str, float]] = {}
        """Presigned URLs by key, with the monotonic time until which they are handed out again."""

    # Keys

    def blob_key(self, digest: Digest) -> str:
        return f"{self.prefix}blobs/{digest.algorithm}/{digest.hex[:2]}/{digest.hex}"

    def _upload_prefix(self, upload_id: str) -> str:
        if not upload_id or "/" in upload_id or upload_id.startswith("."):
            raise BlobNotFound(upload_id)
        return f"{self.prefix}uploads/{upload_id}/"

    def _part_key(self, upload_id: str, offset: int) -> str:
        return f"{self._upload_prefix(upload_id)}part-{offset:016d}"

    # Uploads

    def start_upload(self, upload_id: str) -> None:
        self._put(self._upload_prefix(upload_id) + "started", b"")

    def upload_size(self, upload_id: str) -> int:
        parts = self._parts(upload_id)
        return parts[-1].end if parts else 0

    def append_to_upload(self, upload_id: str, offset: int) -> S3UploadWriter:
        for part in self._parts(upload_id):
            if part.offset >= offset:
                self._delete(part.key)
            elif part.end > offset:
                kept = b"".join(self._get(part.key, 0, offset - part.offset))
                self._put(part.key, kept)
        return S3UploadWriter(self, upload_id, offset)

    def read_upload(self, upload_id: str, chunk_size: int = READ_CHUNK) -> Iterator[bytes]:
        parts = self._parts(upload_id)

        def chunks() -> Iterator[bytes]:
            for part in parts:
                yield from self._get(part.key, 0, None, chunk_size)

        return chunks()

    def commit_upload(self, upload_id: str, digest: Digest) -> None:
        parts = self._parts(upload_id)
        target = self.blob_key(digest)
        if self._head(target) is None:
            if not parts:
                self._put(target, b"")
            elif len(parts) == 1 and parts[0].size <= MAX_COPY_OBJECT:
                self.client.copy_object(
                    Bucket=self.bucket, Key=target, CopySource={"Bucket": self.bucket, "Key": parts[0].key}
                )
            else:
                self._assemble(target, parts)
        self.cancel_upload(upload_id)

    def _assemble(self, target: str, parts: list[Part]) -> None:
        """Publish the parts as one object with a multipart upload (atomic on completion)."""
        started = self.client.create_multipart_upload(Bucket=self.bucket, Key=target)
        multipart_id = started["UploadId"]
        try:
            if all(part.size >= MIN_COPY_PART for part in parts[:-1]):
                pieces = self._copy_parts(target, multipart_id, parts)
            else:
                pieces = self._resend_parts(target, multipart_id, parts)
            self.client.complete_multipart_upload(
                Bucket=self.bucket, Key=target, UploadId=multipart_id, MultipartUpload={"Parts": pieces}
            )
        except BaseException:
            with contextlib.suppress(ClientError):
                self.client.abort_multipart_upload(Bucket=self.bucket, Key=target, UploadId=multipart_id)
            raise

    def _copy_parts(self, target: str, multipart_id: str, parts: list[Part]) -> list[dict[str, Any]]:
        pieces = []
        for number, part in enumerate(parts, start=1):
            copied = self.client.upload_part_copy(
                Bucket=self.bucket,
                Key=target,
                UploadId=multipart_id,
                PartNumber=number,
                CopySource={"Bucket": self.bucket, "Key": part.key},
            )
            pieces.append({"PartNumber": number, "ETag": copied["CopyPartResult"]["ETag"]})
        return pieces

    def _resend_parts(self, target: str, multipart_id: str, parts: list[Part]) -> list[dict[str, Any]]:
        pieces: list[dict[str, Any]] = []
        buffer = bytearray()

        def send(data: bytes) -> None:
            number = len(pieces) + 1
            sent = self.client.upload_part(
                Bucket=self.bucket, Key=target, UploadId=multipart_id, PartNumber=number, Body=data
            )
            pieces.append({"PartNumber": number, "ETag": sent["ETag"]})

        for part in parts:
            for chunk in self._get(part.key, 0, None):
                buffer += chunk
                if len(buffer) >= self.part_size:
                    send(bytes(buffer[: self.part_size]))
                    del buffer[: self.part_size]
        if buffer or not pieces:
            send(bytes(buffer))
        return pieces

    def cancel_upload(self, upload_id: str) -> None:
        try:
            prefix = self._upload_prefix(upload_id)
        except BlobNotFound:
            return
        keys = [item["Key"] for item in self._list(prefix)]
        for start in range(0, len(keys), 1000):
            batch = [{"Key": key} for key in keys[start : start + 1000]]
            self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True})

    def list_uploads(self) -> list[str]:
        """Ids with at least one object; keys are listed whole because some stores (SeaweedFS) keep
        reporting an emptied "directory" as a common prefix."""
        prefix = f"{self.prefix}uploads/"
        return sorted({item["Key"][len(prefix) :].split("/", 1)[0] for item in self._list(prefix)})

    def check(self) -> None:
        self.client.head_bucket(Bucket=self.bucket)

    # Blobs

    def stat(self, digest: Digest) -> int | None:
        return self._head(self.blob_key(digest))

    def locate(self, digest: Digest) -> BlobLocation:
        """A presigned URL when redirecting, else no place (the HTTP layer streams with `read`).

        With redirects the object is not looked up first: callers locate only blobs the metadata
        store lists, whose bytes were committed before that row was written, and a URL to a blob
        deleted since answers 404 from the store itself. A URL is reused while more than half its
        lifetime remains, because signing costs more CPU than the rest of a blob request.
        """
        key = self.blob_key(digest)
        if self.redirect_seconds is None:
            if self._head(key) is None:
                raise BlobNotFound(str(digest))
            return BlobLocation()
        moment = time.monotonic()
        cached = self._signed.get(key)
        if cached is not None and cached[1] > moment:
            return BlobLocation(url=cached[0])
        url = self.client.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": key}, ExpiresIn=self.redirect_seconds
        )
        if len(self._signed) >= MAX_SIGNED_URLS:
            self._signed.clear()
        self._signed[key] = (url, moment + self.redirect_seconds / 2)
        return BlobLocation(url=url)

    def read(self, digest: Digest, offset: int = 0, length: int | None = None) -> Iterator[bytes]:
        return self._get(self.blob_key(digest), offset, length)

    def delete(self, digest: Digest) -> None:
        self._delete(self.blob_key(digest))

    # Object operations

    def _parts(self, upload_id: str) -> list[Part]:
        """The upload's parts in offset order; BlobNotFound if the upload was never started (or is gone)."""
        prefix = self._upload_prefix(upload_id)
        started = False
        parts = []
        for item in self._list(prefix):
            name = item["Key"][len(prefix) :]
            if name == "started":
                started = True
            elif name.startswith("part-"):
                parts.append(Part(item["Key"], int(name[len("part-") :]), int(item["Size"])))
        if not started:
            raise BlobNotFound(upload_id)
        parts.sort(key=lambda part: part.offset)
        return parts

    def _list(self, prefix: str) -> Iterator[dict[str, Any]]:
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
            yield from page.get("Contents", [])

    def _put(self, key: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=key, Body=data)

    def _delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=key)

    def _head(self, key: str) -> int | None:
        try:
            return int(self.client.head_object(Bucket=self.bucket, Key=key)["ContentLength"])
        except ClientError as error:
            if _is_not_found(error):
                return None
            raise

    def _get(self, key: str, offset: int, length: int | None, chunk_size: int = READ_CHUNK) -> Iterator[bytes]:
        """Stream an object's bytes [offset, offset + length); the request is made before the first chunk."""
        if length == 0:
            return iter(())
        arguments: dict[str, Any] = {"Bucket": self.bucket, "Key": key}
        if offset or length is not None:
            last = "" if length is None else str(offset + length - 1)
            arguments["Range"] = f"bytes={offset}-{last}"
        try:
            body = self.client.get_object(**arguments)["Body"]
        except ClientError as error:
            if _is_not_found(error):
                raise BlobNotFound(key) from None
            if error.response.get("Error", {}).get("Code") == "InvalidRange":  # at or past the end
                return iter(())
            raise

        def chunks() -> Iterator[bytes]:
            with contextlib.closing(body):
                yield from body.iter_chunks(chunk_size)

        return chunks()


def _is_not_found(error: ClientError) -> bool:
    return str(error.response.get("Error", {}).get("Code")) in _NOT_FOUND


def s3_client(
    endpoint_url: str | None, region: str | None, access_key_id: str | None, secret_access_key: str | None
) -> Any:
    """A boto3 S3 client; credentials fall back to boto3's usual chain (environment, profile, instance role)."""
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=endpoint_url,
        region_name=region,
        aws_access_key_id=access_key_id,
        aws_secret_access_key=secret_access_key,
        config=Config(max_pool_connections=64, retries={"mode": "standard"}, s3={"addressing_style": "path"}),
    )
