{{- define "allkinds.labels" -}}
app.kubernetes.io/name: allkinds
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}
{{- define "allkinds.selector" -}}
app.kubernetes.io/name: allkinds
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}
