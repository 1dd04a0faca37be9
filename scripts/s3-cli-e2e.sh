#!/usr/bin/env bash
# End-to-end test of the S3 API with the aws cli, as a user would run it:
# mb, cp (small, and 20 MiB so it goes multipart), ls, sync, download and
# compare, presign + curl, tagging, versioning (put-bucket-versioning,
# list-object-versions, get-object --version-id), rm --recursive, rb; and a
# Reader's writes fail with AccessDenied. Starts one node on loopback and stops it by PID.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

work=$(mktemp -d)
trap 'stop_node; rm -rf "$work"' EXIT
# One-second lifecycle days, evaluated every 200 ms, for the lifecycle part.
start_node "$work" --lifecycle-day 1s --lifecycle-interval 200ms

fail() { echo "FAIL: $*"; tail -20 "$work/out.log"; exit 1; }

TOKEN=$(admin_token)
ALICE=$(new_user "$TOKEN" alice Writer)
BOB=$(new_user "$TOKEN" bob Reader)
read -r AK SK <<<"$(issue_keys "$TOKEN" "$ALICE")"
read -r BAK BSK <<<"$(issue_keys "$TOKEN" "$BOB")"

export AWS_DEFAULT_REGION=us-east-1 AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
as_alice() { AWS_ACCESS_KEY_ID=$AK AWS_SECRET_ACCESS_KEY=$SK aws --endpoint-url "$BASE" "$@"; }
as_bob() { AWS_ACCESS_KEY_ID=$BAK AWS_SECRET_ACCESS_KEY=$BSK aws --endpoint-url "$BASE" "$@"; }

as_alice s3 mb s3://e2e >/dev/null
echo "hello s4" >"$work/small.txt"
head -c $((20 << 20)) /dev/urandom >"$work/big.bin"
as_alice s3 cp "$work/small.txt" s3://e2e/small.txt --only-show-errors
as_alice s3 cp "$work/big.bin" s3://e2e/big.bin --only-show-errors
mkdir -p "$work/tree/sub dir"
for i in 1 2 3; do echo "file $i" >"$work/tree/f$i.txt"; echo "nested $i" >"$work/tree/sub dir/n+$i.txt"; done
as_alice s3 sync "$work/tree" s3://e2e/tree --only-show-errors

listing=$(as_alice s3 ls s3://e2e --recursive)
for k in small.txt big.bin tree/f1.txt "tree/sub dir/n+3.txt"; do
  grep -qF "$k" <<<"$listing" || fail "ls does not show $k"
done
[ "$(grep -c . <<<"$listing")" = 8 ] || fail "expected 8 objects, got: $listing"

as_alice s3 cp s3://e2e/big.bin "$work/big.out" --only-show-errors
cmp "$work/big.bin" "$work/big.out" || fail "20 MiB download differs"
as_alice s3 sync s3://e2e/tree "$work/tree.out" --only-show-errors
diff -r "$work/tree" "$work/tree.out" || fail "synced tree differs"

# Presigned URL (the aws cli makes a SigV2 URL for us-east-1), fetched with curl.
url=$(as_alice s3 presign s3://e2e/small.txt --expires-in 300)
[ "$(curl -s --cacert "$AWS_CA_BUNDLE" "$url")" = "hello s4" ] || fail "presigned GET"
# Tampering with it fails.
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$AWS_CA_BUNDLE" "${url/small.txt/big.bin}")
[ "$code" = 403 ] || fail "tampered presigned URL gave $code"

# A Reader reads but cannot write.
as_bob s3 ls s3://e2e >/dev/null || fail "reader cannot list"
as_bob s3 cp s3://e2e/small.txt - >/dev/null || fail "reader cannot read"
out=$(as_bob s3 cp "$work/small.txt" s3://e2e/bob.txt 2>&1) && fail "reader could upload"
grep -q AccessDenied <<<"$out" || fail "reader upload: $out"
out=$(as_bob s3 rm s3://e2e/small.txt 2>&1) && fail "reader could delete"
grep -q AccessDenied <<<"$out" || fail "reader delete: $out"
out=$(as_bob s3 mb s3://bobs 2>&1) && fail "reader could create a bucket"
grep -q AccessDenied <<<"$out" || fail "reader mb: $out"

# User metadata comes back with its name in lower case, as S3 sends it
# (x-amz-meta-Foo made botocore answer {"Foo": ...}), also after a copy.
as_alice s3api put-object --bucket e2e --key meta.txt --body "$work/small.txt" --metadata Foo=bar,Two-Words=x >/dev/null
as_alice s3api copy-object --bucket e2e --key meta-copy.txt --copy-source e2e/meta.txt >/dev/null
for k in meta.txt meta-copy.txt; do
  md=$(as_alice s3api head-object --bucket e2e --key "$k" --query Metadata --output json |
    python3 -c 'import json, sys; print(json.dumps(json.load(sys.stdin), sort_keys=True))')
  [ "$md" = '{"foo": "bar", "two-words": "x"}' ] || fail "head-object $k metadata: $md"
done

# Object tagging.
as_alice s3api put-object-tagging --bucket e2e --key meta.txt --tagging 'TagSet=[{Key=team,Value=s4},{Key=env,Value=test}]'
tags=$(as_alice s3api get-object-tagging --bucket e2e --key meta.txt --query 'TagSet[].[Key,Value]' --output text | tr '\t\n' '= ')
[ "$tags" = "env=test team=s4 " ] || fail "get-object-tagging: $tags"
count=$(as_bob s3api head-object --bucket e2e --key meta.txt --query TagCount --output text)
[ "$count" = 2 ] || fail "head-object TagCount: $count"
out=$(as_bob s3api delete-object-tagging --bucket e2e --key meta.txt 2>&1) && fail "reader could delete tags"
grep -q AccessDenied <<<"$out" || fail "reader delete-object-tagging: $out"

# Versioning: versions listed and read by ID, a delete marker, a Reader
# may read versions but not change versioning.
as_alice s3 mb s3://e2ever >/dev/null
as_alice s3api put-bucket-versioning --bucket e2ever --versioning-configuration Status=Enabled
st=$(as_bob s3api get-bucket-versioning --bucket e2ever --query Status --output text)
[ "$st" = Enabled ] || fail "get-bucket-versioning: $st"
echo one >"$work/v1.txt"
echo two >"$work/v2.txt"
v1=$(as_alice s3api put-object --bucket e2ever --key doc.txt --body "$work/v1.txt" --query VersionId --output text)
v2=$(as_alice s3api put-object --bucket e2ever --key doc.txt --body "$work/v2.txt" --query VersionId --output text)
[ -n "$v1" ] && [ "$v1" != "$v2" ] || fail "put-object versions: $v1 $v2"
as_bob s3api get-object --bucket e2ever --key doc.txt --version-id "$v1" "$work/v1.out" >/dev/null
cmp "$work/v1.txt" "$work/v1.out" || fail "get-object --version-id $v1"
as_alice s3api delete-object --bucket e2ever --key doc.txt >/dev/null
vers=$(as_bob s3api list-object-versions --bucket e2ever --query '[length(Versions), length(DeleteMarkers), Versions[0].VersionId]' --output text)
[ "$vers" = "$(printf '2\t1\t%s' "$v2")" ] || fail "list-object-versions: $vers"
out=$(as_alice s3api get-object --bucket e2ever --key doc.txt "$work/gone.out" 2>&1) && fail "get-object after a delete marker"
grep -q NoSuchKey <<<"$out" || fail "get-object after a delete marker: $out"
out=$(as_bob s3api put-bucket-versioning --bucket e2ever --versioning-configuration Status=Suspended 2>&1) && fail "reader could suspend versioning"
grep -q AccessDenied <<<"$out" || fail "reader put-bucket-versioning: $out"
out=$(as_alice s3 rb s3://e2ever 2>&1) && fail "rb of a bucket with versions"
grep -q BucketNotEmpty <<<"$out" || fail "rb with versions: $out"
for q in Versions DeleteMarkers; do
  as_alice s3api list-object-versions --bucket e2ever --query "$q[].[Key,VersionId]" --output text |
    while read -r k id; do as_alice s3api delete-object --bucket e2ever --key "$k" --version-id "$id" >/dev/null; done
done
as_alice s3 rb s3://e2ever >/dev/null

# Lifecycle configuration (a day is a second here): put, get back, a
# Reader cannot change it, and the rule expires what it selects.
as_alice s3api put-object --bucket e2e --key lc/old.txt --body "$work/small.txt" >/dev/null
cat >"$work/lifecycle.json" <<'JSON'
{"Rules": [
  {"ID": "tmp", "Status": "Enabled", "Filter": {"Prefix": "lc/"}, "Expiration": {"Days": 1}},
  {"ID": "uploads", "Status": "Enabled", "Filter": {}, "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7}}
]}
JSON
as_alice s3api put-bucket-lifecycle-configuration --bucket e2e --lifecycle-configuration "file://$work/lifecycle.json"
rules=$(as_bob s3api get-bucket-lifecycle-configuration --bucket e2e --query 'Rules[].[ID,Status,Filter.Prefix,Expiration.Days]' --output text | tr '\t\n' ', ')
[ "$rules" = "tmp,Enabled,lc/,1 uploads,Enabled,None,None " ] || fail "get-bucket-lifecycle-configuration: $rules"
out=$(as_bob s3api put-bucket-lifecycle-configuration --bucket e2e --lifecycle-configuration "file://$work/lifecycle.json" 2>&1) && fail "reader could put a lifecycle"
grep -q AccessDenied <<<"$out" || fail "reader put-bucket-lifecycle-configuration: $out"
deadline=$((SECONDS + 20))
while as_alice s3api head-object --bucket e2e --key lc/old.txt >/dev/null 2>&1; do
  [ $SECONDS -lt $deadline ] || fail "lc/old.txt did not expire"
  sleep 0.2
done
as_alice s3api head-object --bucket e2e --key small.txt >/dev/null || fail "lifecycle expired small.txt"
as_alice s3api delete-bucket-lifecycle --bucket e2e
out=$(as_alice s3api get-bucket-lifecycle-configuration --bucket e2e 2>&1) && fail "lifecycle still there"
grep -q NoSuchLifecycleConfiguration <<<"$out" || fail "after delete-bucket-lifecycle: $out"

# Lifecycle on a versioned bucket: the latest version goes behind a delete
# marker, the noncurrent versions go a day later, then the lone marker.
as_alice s3 mb s3://e2elc >/dev/null
as_alice s3api put-bucket-versioning --bucket e2elc --versioning-configuration Status=Enabled
as_alice s3api put-object --bucket e2elc --key doc.txt --body "$work/small.txt" >/dev/null
as_alice s3api put-object --bucket e2elc --key doc.txt --body "$work/small.txt" >/dev/null
cat >"$work/lifecycle-versions.json" <<'JSON'
{"Rules": [
  {"ID": "all", "Status": "Enabled", "Filter": {}, "Expiration": {"Days": 1}, "NoncurrentVersionExpiration": {"NoncurrentDays": 1}},
  {"ID": "markers", "Status": "Enabled", "Filter": {}, "Expiration": {"ExpiredObjectDeleteMarker": true}}
]}
JSON
as_alice s3api put-bucket-lifecycle-configuration --bucket e2elc --lifecycle-configuration "file://$work/lifecycle-versions.json"
deadline=$((SECONDS + 30))
until [ "$(as_alice s3api list-object-versions --bucket e2elc --query '[length(Versions || `[]`), length(DeleteMarkers || `[]`)]' --output text)" = "$(printf '0\t0')" ]; do
  [ $SECONDS -lt $deadline ] || fail "versioned lifecycle: $(as_alice s3api list-object-versions --bucket e2elc --output json)"
  sleep 0.2
done
as_alice s3 rb s3://e2elc >/dev/null

# Revoked: the next request with the old key fails.
curl -s --cacert "$AWS_CA_BUNDLE" -X DELETE "$BASE/api/admin/users/$BOB/credentials" -H "Authorization: Bearer $TOKEN"
out=$(as_bob s3 ls s3://e2e 2>&1) && fail "revoked key still works"
grep -q InvalidAccessKeyId <<<"$out" || fail "revoked key: $out"

as_alice s3 rm s3://e2e --recursive --only-show-errors
[ -z "$(as_alice s3 ls s3://e2e --recursive)" ] || fail "rm --recursive left objects"
as_alice s3 rb s3://e2e >/dev/null
out=$(as_alice s3 ls s3://e2e 2>&1) && fail "bucket still there"
grep -q NoSuchBucket <<<"$out" || fail "rb: $out"
echo "s3-cli-e2e: OK"
