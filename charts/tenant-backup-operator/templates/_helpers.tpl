{{/* The chart's name: nameOverride, else the chart's. */}}
{{- define "tbo.name" -}}
{{- .Values.nameOverride | default .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Name of every object: fullnameOverride, else the release name, or <release>-<name>
unless it holds the name. */}}
{{- define "tbo.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else if contains (include "tbo.name" .) .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name (include "tbo.name" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* What selects the operator's pods: fixed for a release (selectors are immutable). */}}
{{- define "tbo.selectorLabels" -}}
app.kubernetes.io/name: {{ include "tbo.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* Labels of every object: the selector's, then commonLabels. */}}
{{- define "tbo.labels" -}}
{{ include "tbo.selectorLabels" . }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end -}}
{{- end -}}

{{/* The operator image, set once for the operator, the UI and (unless dumpJob.image) the
Jobs: <repository>@<digest> when a digest is given, else <repository>:<tag or appVersion>. */}}
{{- define "tbo.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) -}}
{{- end -}}
{{- end -}}

{{/* The operator's ServiceAccount: serviceAccount.name, else (created by the chart) the
full name; the schema asks for a name when the chart does not create it. */}}
{{- define "tbo.serviceAccountName" -}}
{{- .Values.serviceAccount.name | default (include "tbo.fullname" .) -}}
{{- end -}}

{{- define "tbo.subject" -}}
- kind: ServiceAccount
  name: {{ include "tbo.serviceAccountName" . }}
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

{{- define "tbo.uiSelectorLabels" -}}
app.kubernetes.io/name: {{ include "tbo.name" . }}-ui
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "tbo.uiLabels" -}}
{{ include "tbo.uiSelectorLabels" . }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end -}}
{{- end -}}
