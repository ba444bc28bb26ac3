{{/* Naming and labels shared by every template. */}}

{{- define "redcap-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
Full name: <release>-redcap-operator, or the release name alone when it already
contains the chart name (so `helm install redcap-operator ...` gives "redcap-operator").
*/}}
{{- define "redcap-operator.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "redcap-operator.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Selector labels: stable across upgrades (Deployment selectors are immutable). */}}
{{- define "redcap-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "redcap-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "redcap-operator.labels" -}}
helm.sh/chart: {{ include "redcap-operator.chart" . }}
{{ include "redcap-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: operator
app.kubernetes.io/part-of: redcap-operator
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "redcap-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "redcap-operator.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "redcap-operator.leaseName" -}}
{{- default (include "redcap-operator.fullname" .) .Values.leaderElection.leaseName -}}
{{- end -}}

{{/* image reference: digest wins over tag; tag defaults to appVersion. */}}
{{- define "redcap-operator.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{/*
The operator's ServiceAccount as the API server names the user (admission policies match
requests on it).
*/}}
{{- define "redcap-operator.serviceAccountUser" -}}
{{- printf "system:serviceaccount:%s:%s" .Release.Namespace (include "redcap-operator.serviceAccountName" .) -}}
{{- end -}}

{{/*
Namespaces where the chart itself binds the Secret ClusterRole (scope "namespaces"): the
listed ones and the watched namespace, once each, as a JSON list.
*/}}
{{- define "redcap-operator.secretNamespaces" -}}
{{- $ns := list -}}
{{- range .Values.rbac.secrets.namespaces }}{{ $ns = append $ns . }}{{ end -}}
{{- with .Values.operator.watchNamespace }}{{ $ns = append $ns . }}{{ end -}}
{{- $ns | uniq | toJson -}}
{{- end -}}
