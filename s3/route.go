package s3

import (
	"net/url"
	"strings"

	"github.com/s4/s4/iam"
)

// operation is one S3 API action and the least role that may call it
// (docs/DESIGN.md "Roles"): Readers list and read, Writers also change buckets
// and objects, SuperUsers do everything.
type operation struct {
	name string
	role iam.Role
	fn   func(*Handler, *request) error
	idx  int // in operations: the metrics' index
}

// operations lists every operation once, in declaration order.
var operations []*operation

func op(name string, role iam.Role, fn func(*Handler, *request) error) *operation {
	o := &operation{name: name, role: role, fn: fn, idx: len(operations)}
	operations = append(operations, o)
	return o
}

// OperationNames returns the names of the S3 operations, by the index the
// handler gives metrics.S3.Request (metrics.New takes this list).
func OperationNames() []string {
	out := make([]string, len(operations))
	for i, o := range operations {
		out[i] = o.name
	}
	return out
}

var (
	opListBuckets           = op("ListBuckets", iam.RoleReader, (*Handler).listBuckets)
	opCreateBucket          = op("CreateBucket", iam.RoleWriter, (*Handler).createBucket)
	opDeleteBucket          = op("DeleteBucket", iam.RoleWriter, (*Handler).deleteBucket)
	opHeadBucket            = op("HeadBucket", iam.RoleReader, (*Handler).headBucket)
	opGetBucketLocation     = op("GetBucketLocation", iam.RoleReader, (*Handler).getBucketLocation)
	opGetBucketVersioning   = op("GetBucketVersioning", iam.RoleReader, (*Handler).getBucketVersioning)
	opPutBucketVersioning   = op("PutBucketVersioning", iam.RoleWriter, (*Handler).putBucketVersioning)
	opGetBucketACL          = op("GetBucketAcl", iam.RoleReader, (*Handler).getACL)
	opPutBucketACL          = op("PutBucketAcl", iam.RoleWriter, (*Handler).putACL)
	opListObjects           = op("ListObjects", iam.RoleReader, (*Handler).listObjects)
	opListObjectsV2         = op("ListObjectsV2", iam.RoleReader, (*Handler).listObjectsV2)
	opListObjectVersions    = op("ListObjectVersions", iam.RoleReader, (*Handler).listObjectVersions)
	opListMultipartUploads  = op("ListMultipartUploads", iam.RoleWriter, (*Handler).listMultipartUploads)
	opDeleteObjects         = op("DeleteObjects", iam.RoleWriter, (*Handler).deleteObjects)
	opGetObject             = op("GetObject", iam.RoleReader, (*Handler).getObject)
	opHeadObject            = op("HeadObject", iam.RoleReader, (*Handler).getObject)
	opGetObjectACL          = op("GetObjectAcl", iam.RoleReader, (*Handler).getACL)
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
	opGetObjectTagging      = op("GetObjectTagging", iam.RoleReader, (*Handler).getObjectTagging)
	opPutObjectTagging      = op("PutObjectTagging", iam.RoleWriter, (*Handler).putObjectTagging)
	opDeleteObjectTagging   = op("DeleteObjectTagging", iam.RoleWriter, (*Handler).deleteObjectTagging)
	opGetBucketTagging      = op("GetBucketTagging", iam.RoleReader, (*Handler).getBucketTagging)
	opPutBucketTagging      = op("PutBucketTagging", iam.RoleWriter, (*Handler).putBucketTagging)
	opDeleteBucketTagging   = op("DeleteBucketTagging", iam.RoleWriter, (*Handler).deleteBucketTagging)
	opGetBucketLifecycle    = op("GetBucketLifecycleConfiguration", iam.RoleReader, (*Handler).getBucketLifecycle)
	opPutBucketLifecycle    = op("PutBucketLifecycleConfiguration", iam.RoleWriter, (*Handler).putBucketLifecycle)
	opDeleteBucketLifecycle = op("DeleteBucketLifecycle", iam.RoleWriter, (*Handler).deleteBucketLifecycle)
)

// unsupported are S3 sub-resources S4 does not implement: any request
// naming one gets NotImplemented rather than a wrong answer.
var unsupported = []string{
	"policy", "cors", "website", "notification", "replication",
	"encryption", "object-lock", "legal-hold", "retention", "torrent", "restore", "select",
	"analytics", "inventory", "metrics", "logging", "requestPayment", "accelerate",
	"ownershipControls", "publicAccessBlock", "intelligent-tiering", "attributes",
	"policyStatus", "session", "renameObject",
}

// A rule routes the requests with its method whose query has its
// parameter (query: "name" present, "name=value" with that first value,
// "" any query) and, with copy, an x-amz-copy-source header. The first
// rule that matches wins.
type rule struct {
	method string
	query  string
	copy   bool
	op     *operation
}

func (ru *rule) matches(method string, q url.Values, copying bool) bool {
	if ru.method != method || ru.copy && !copying {
		return false
	}
	if name, value, ok := strings.Cut(ru.query, "="); ok {
		return q.Get(name) == value
	}
	_, ok := q[ru.query]
	return ru.query == "" || ok
}

// bucketRules route the requests that name a bucket and no key.
var bucketRules = []rule{
	{"GET", "versioning", false, opGetBucketVersioning},
	{"PUT", "versioning", false, opPutBucketVersioning},
	{"GET", "tagging", false, opGetBucketTagging},
	{"PUT", "tagging", false, opPutBucketTagging},
	{"DELETE", "tagging", false, opDeleteBucketTagging},
	{"GET", "lifecycle", false, opGetBucketLifecycle},
	{"PUT", "lifecycle", false, opPutBucketLifecycle},
	{"DELETE", "lifecycle", false, opDeleteBucketLifecycle},
	{"GET", "location", false, opGetBucketLocation},
	{"GET", "acl", false, opGetBucketACL},
	{"GET", "uploads", false, opListMultipartUploads},
	{"GET", "versions", false, opListObjectVersions},
	{"GET", "list-type=2", false, opListObjectsV2},
	{"GET", "", false, opListObjects},
	{"HEAD", "", false, opHeadBucket},
	{"PUT", "acl", false, opPutBucketACL},
	{"PUT", "", false, opCreateBucket},
	{"DELETE", "", false, opDeleteBucket},
	{"POST", "delete", false, opDeleteObjects},
}

// objectRules route the requests that name an object.
var objectRules = []rule{
	{"GET", "tagging", false, opGetObjectTagging},
	{"PUT", "tagging", false, opPutObjectTagging},
	{"DELETE", "tagging", false, opDeleteObjectTagging},
	{"GET", "uploadId", false, opListParts},
	{"GET", "acl", false, opGetObjectACL},
	{"GET", "", false, opGetObject},
	{"HEAD", "", false, opHeadObject},
	{"PUT", "uploadId", true, opUploadPartCopy},
	{"PUT", "partNumber", true, opUploadPartCopy},
	{"PUT", "uploadId", false, opUploadPart},
	{"PUT", "partNumber", false, opUploadPart},
	{"PUT", "acl", false, opPutObjectACL},
	{"PUT", "", true, opCopyObject},
	{"PUT", "", false, opPutObject},
	{"DELETE", "uploadId", false, opAbortMultipart},
	{"DELETE", "", false, opDeleteObject},
	{"POST", "uploads", false, opCreateMultipartUpload},
	{"POST", "uploadId", false, opCompleteMultipart},
}

// route picks the operation for a request, or nil (NotImplemented).
func route(r *request) *operation {
	method := string(r.ctx.Method())
	if r.bucket == "" {
		if method == "GET" {
			return opListBuckets
		}
		return nil
	}
	if _, ok := r.query["versioning"]; ok && r.key != "" {
		return nil // a bucket's sub-resource only
	}
	for _, sub := range unsupported {
		if _, ok := r.query[sub]; ok {
			return nil
		}
	}
	if _, ok := r.query["lifecycle"]; ok && r.key != "" {
		return nil // a bucket's sub-resource only: never an object operation
	}
	rules := objectRules
	if r.key == "" {
		rules = bucketRules
	}
	copying := len(r.ctx.Request.Header.Peek("X-Amz-Copy-Source")) > 0
	for i := range rules {
		if rules[i].matches(method, r.query, copying) {
			return rules[i].op
		}
	}
	return nil
}
