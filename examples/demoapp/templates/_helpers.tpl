{{/* The application's name. Release `demoapp` (one per namespace, the article's flow) calls
every object flaskapp; releases sharing a namespace get a suffix from their name, so that
demoapp-canary (strategy canary) is flaskapp-canary and demoapp-blue/-green (blue-green) are
flaskapp-blue/-green. nameOverride wins. */}}
{{- define "demoapp.name" -}}
{{- if .Values.nameOverride -}}
{{ .Values.nameOverride }}
{{- else if hasPrefix "demoapp" .Release.Name -}}
{{ printf "flaskapp%s" (trimPrefix "demoapp" .Release.Name) }}
{{- else -}}
{{ .Release.Name }}
{{- end }}
{{- end }}

{{/* Chart label value: name-version, trimmed to the 63 characters a label allows. */}}
{{- define "demoapp.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels that select the pods; they must never change across upgrades. */}}
{{- define "demoapp.selectorLabels" -}}
app: {{ include "demoapp.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Labels of the application's objects. */}}
{{- define "demoapp.labels" -}}
{{ include "demoapp.selectorLabels" . }}
app.kubernetes.io/name: {{ include "demoapp.name" . }}
{{ include "demoapp.commonLabels" . }}
{{- end }}

{{/* Bookkeeping labels; no selector labels, so helm test pods stay out of the Service. */}}
{{- define "demoapp.commonLabels" -}}
app.kubernetes.io/version: {{ .Values.deployment.tag | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ include "demoapp.chart" . }}
{{- end }}
