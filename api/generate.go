// Package api holds the facecluster gRPC contract: the .proto sources under proto/ and the Go code
// buf generates from them under gen/ (committed; regenerate with `go generate ./api`).
package api

//go:generate go run github.com/bufbuild/buf/cmd/buf@v1.75.0 lint
//go:generate go run github.com/bufbuild/buf/cmd/buf@v1.75.0 generate
