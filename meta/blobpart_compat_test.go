package meta

import (
	"crypto/sha256"
	"testing"
)

// TestBlobPartOfFormat2Decodes: a record or event written before blobs
// were named by ID (its part's field is "SHA256", the content's hash)
// decodes with that hash as the blob's ID, and a part written now encodes
// the same way, so that events and snapshots of both releases replay.
func TestBlobPartOfFormat2Decodes(t *testing.T) {
	type oldPart struct {
		SHA256 [32]byte
		Size   int64
	}
	type oldObject struct {
		Size  int64
		ETag  string
		Parts []oldPart
	}
	sum := sha256.Sum256([]byte("an object of the previous release"))
	var o ObjectMeta
	decodeMsg(encodeMsg(&oldObject{Size: 33, ETag: `"x"`, Parts: []oldPart{{SHA256: sum, Size: 33}}}), &o)
	if len(o.Parts) != 1 || o.Parts[0].ID != sum || o.Parts[0].Size != 33 {
		t.Fatalf("decoded %+v, want the part's ID to be its old SHA-256 name", o.Parts)
	}
	var back oldObject
	decodeMsg(encodeMsg(&ObjectMeta{Size: 33, Parts: []BlobPart{{ID: sum, Size: 33}}}), &back)
	if len(back.Parts) != 1 || back.Parts[0].SHA256 != sum {
		t.Fatalf("a part written now decodes in the old form as %+v", back.Parts)
	}
}
