package s3

import (
	"github.com/s4/s4/iam"
)

// operation is one S3 API action and the least role that may call it
// (DESIGN.md "Roles"): Readers list and read, Writers also change buckets
// and objects, SuperUsers do everything.
type operation struct {
	name string
	role iam.Role
	fn   func(*Handler, *request) error
}

func op(name string, role iam.Role, fn func(*Handler, *request) error) *operation {
	return &operation{name: name, role: role, fn: fn}
}

var (
	opListBuckets           = op("ListBuckets", iam.RoleReader, (*Handler).listBuckets)
	opCreateBucket          = op("CreateBucket", iam.RoleWriter, (*Handler).createBucket)
	opDeleteBucket          = op("DeleteBucket", iam.RoleWriter, (*Handler).deleteBucket)
	opHeadBucket            = op("HeadBucket", iam.RoleReader, (*Handler).headBucket)
	opGetBucketLocation     = op("GetBucketLocation", iam.RoleReader, (*Handler).getBucketLocation)
	opGetBucketVersioning   = op("GetBucketVersioning", iam.RoleReader, (*Handler).getBucketVersioning)
	opGetBucketACL          = op("GetBucketAcl", iam.RoleReader, (*Handler).getBucketACL)
	opPutBucketACL          = op("PutBucketAcl", iam.RoleWriter, (*Handler).putACL)
	opListObjects           = op("ListObjects", iam.RoleReader, (*Handler).listObjects)
	opListObjectsV2         = op("ListObjectsV2", iam.RoleReader, (*Handler).listObjectsV2)
	opListObjectVersions    = op("ListObjectVersions", iam.RoleReader, (*Handler).listObjectVersions)
	opListMultipartUploads  = op("ListMultipartUploads", iam.RoleWriter, (*Handler).listMultipartUploads)
	opDeleteObjects         = op("DeleteObjects", iam.RoleWriter, (*Handler).deleteObjects)
	opGetObject             = op("GetObject", iam.RoleReader, (*Handler).getObject)
	opHeadObject            = op("HeadObject", iam.RoleReader, (*Handler).getObject)
	opGetObjectACL          = op("GetObjectAcl", iam.RoleReader, (*Handler).getObjectACL)
	opPutObjectACL          = op("PutObjectAcl", iam.RoleWriter, (*Handler).putACL)
	opPutObject             = op("PutObject", iam.RoleWriter, (*Handler).putObject)
	opCopyObject            = op("CopyObject", iam.RoleWriter, (*Handler).copyObject)
	opDeleteObject          = op("DeleteObject", iam.RoleWriter, (*Handler).deleteObject)
	opCreateMultipartUpload = op("CreateMultipartUpload", iam.RoleWriter, (*Handler).createMultipartUpload)
	opUploadPart            = op("UploadPart", iam.RoleWriter, (*Handler).uploadPart)
	opUploadPartCopy        = op("UploadPartCopy", iam.RoleWriter, (*Handler).uploadPartCopy)
	opCompleteMultipart     = op("CompleteMultipartUpload", iam.RoleWriter, (*Handler).completeMultipartUpload)
	opAbortMultipart        = op("AbortMultipartUpload", iam.RoleWriter, (*Handler).abortMultipartUpload)
	opListParts             = op("ListParts", iam.RoleWriter, (*Handler).listParts)
)

// unsupported are S3 sub-resources S4 does not implement: any request
// naming one gets NotImplemented rather than a wrong answer.
var unsupported = []string{
	"policy", "cors", "lifecycle", "tagging", "website", "notification", "replication",
	"encryption", "object-lock", "legal-hold", "retention", "torrent", "restore", "select",
	"analytics", "inventory", "metrics", "logging", "requestPayment", "accelerate",
	"ownershipControls", "publicAccessBlock", "intelligent-tiering", "attributes",
	"policyStatus", "versioning", "session", "renameObject",
}

// route picks the operation for a request, or nil (NotImplemented).
func route(r *request) *operation {
	q := r.query
	has := func(k string) bool { _, ok := q[k]; return ok }
	method := string(r.ctx.Method())
	if r.bucket == "" {
		if method == "GET" {
			return opListBuckets
		}
		return nil
	}
	if method == "GET" && r.key == "" && has("versioning") {
		return opGetBucketVersioning
	}
	for _, sub := range unsupported {
		if has(sub) {
			return nil
		}
	}
	if r.key == "" {
		switch method {
		case "GET":
			switch {
			case has("location"):
				return opGetBucketLocation
			case has("acl"):
				return opGetBucketACL
			case has("uploads"):
				return opListMultipartUploads
			case has("versions"):
				return opListObjectVersions
			case q.Get("list-type") == "2":
				return opListObjectsV2
			}
			return opListObjects
		case "HEAD":
			return opHeadBucket
		case "PUT":
			if has("acl") {
				return opPutBucketACL
			}
			return opCreateBucket
		case "DELETE":
			return opDeleteBucket
		case "POST":
			if has("delete") {
				return opDeleteObjects
			}
		}
		return nil
	}
	switch method {
	case "GET":
		switch {
		case has("uploadId"):
			return opListParts
		case has("acl"):
			return opGetObjectACL
		}
		return opGetObject
	case "HEAD":
		return opHeadObject
	case "PUT":
		switch {
		case has("uploadId") || has("partNumber"):
			if len(r.ctx.Request.Header.Peek("X-Amz-Copy-Source")) > 0 {
				return opUploadPartCopy
			}
			return opUploadPart
		case has("acl"):
			return opPutObjectACL
		case len(r.ctx.Request.Header.Peek("X-Amz-Copy-Source")) > 0:
			return opCopyObject
		}
		return opPutObject
	case "DELETE":
		if has("uploadId") {
			return opAbortMultipart
		}
		return opDeleteObject
	case "POST":
		switch {
		case has("uploads"):
			return opCreateMultipartUpload
		case has("uploadId"):
			return opCompleteMultipart
		}
	}
	return nil
}
