{{/* The application's name: every object is called flaskapp, as in the article. */}}
{{- define "demoapp.name" -}}
flaskapp
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
