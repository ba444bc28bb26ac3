// Test harness for manifests/gitops/argocd-health.lua (not shipped).
module redcap-operator/manifests/gitops/health-test

go 1.26.0

require (
	github.com/yuin/gopher-lua v1.1.1
	sigs.k8s.io/yaml v1.6.0
)

require go.yaml.in/yaml/v2 v2.4.2 // indirect
