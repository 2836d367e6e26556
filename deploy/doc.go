// Package deploy holds the container and Kubernetes deployment of facecluster and the tests that
// keep them honest. It is a Go module of its own so that the product's module stays free of the
// Kubernetes and Compose libraries the tests need.
//
// The tests render every kustomize overlay with the kustomize API (krusty), decode every object
// strictly into the typed Kubernetes API structs (an unknown field fails), and check the
// invariants of docs/deploy.md: selectors, named ports, Secret and ConfigMap keys, probes,
// resources, security contexts, pinned images, the receiver's rollout, KEDA's trigger. They also
// load ../compose.yaml with the compose-spec library and parse ../Dockerfile with BuildKit's
// parser to compare it with the Makefile's build.
package deploy
