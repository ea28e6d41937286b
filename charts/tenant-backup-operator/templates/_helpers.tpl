{{/* Name of every object: the release name, or <release>-<chart> unless it holds the chart name. */}}
{{- define "tbo.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "tbo.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "tbo.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) -}}
{{- end -}}

{{- define "tbo.subject" -}}
- kind: ServiceAccount
  name: {{ include "tbo.fullname" . }}
  namespace: {{ .Release.Namespace }}
{{- end -}}

{{/* Labels of one alert: (list $ "<severity>"); metrics.prometheusRule.alertLabels win. */}}
{{- define "tbo.alertLabels" -}}
{{- $values := (index . 0).Values.metrics.prometheusRule -}}
{{- toYaml (merge (dict) $values.alertLabels (dict "severity" (index . 1))) -}}
{{- end -}}

{{/* The backup UI's objects: their own name and labels, so no operator selector (its
Deployment, metrics Service, PodDisruptionBudget, NetworkPolicy) matches the UI's pods. */}}
{{- define "tbo.uiName" -}}
{{- printf "%s-ui" (include "tbo.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "tbo.uiLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}-ui
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}
