{{/*
Shared pieces of the featherman templates. Object names, namespaces and selector labels are the
ones of config/ (the gateway, the operator and the pool pods find each other by them, and a
Deployment's selector cannot change), so the chart and `kubectl apply -f dist/install.yaml` make
the same objects; the chart only adds its own labels.
*/}}

{{- define "featherman.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end }}

{{/* values.schema.json makes it a namespace name */}}
{{- define "featherman.operatorNamespace" -}}
{{- .Values.operator.namespace }}
{{- end }}

{{/* The labels every object gets: (dict "root" $ "component" "operator") */}}
{{- define "featherman.labels" -}}
app.kubernetes.io/name: featherman
{{- with .component }}
app.kubernetes.io/component: {{ . }}
{{- end }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version | replace "+" "_" }}
{{- end }}

{{- define "featherman.selector" -}}
app.kubernetes.io/name: featherman
app.kubernetes.io/component: {{ . }}
{{- end }}

{{/*
A pod template's labels: the selector's and the release's win over podLabels, so a podLabels
entry can never take a pod out of its Deployment, the gateway's routing or the NetworkPolicy.
(dict "root" $ "component" "operator" "values" .Values.operator)
*/}}
{{- define "featherman.podLabels" -}}
{{- $own := dict "app.kubernetes.io/name" "featherman" "app.kubernetes.io/component" .component "app.kubernetes.io/instance" .root.Release.Name }}
{{- toYaml (merge $own (deepCopy (.values.podLabels | default dict))) }}
{{- end }}

{{/*
The pod template's scheduling and metadata overrides of one component:
(dict "root" $ "values" .Values.operator)
*/}}
{{- define "featherman.podExtras" -}}
{{- with .root.Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/* The operator's permissions, as a ClusterRole (all namespaces) or a Role (one). */}}
{{- define "featherman.operatorRules" -}}
- apiGroups: [ducklake.featherman.dev]
  resources: [ducklakecatalogs, ducklaketables, ducklakepools]
  verbs: [get, list, watch, patch, update]
- apiGroups: [ducklake.featherman.dev]
  resources: [ducklakecatalogs/status, ducklaketables/status, ducklakepools/status]
  verbs: [get, patch, update]
- apiGroups: [batch]
  resources: [jobs]
  verbs: [get, list, watch, create, delete]
- apiGroups: [""]
  resources: [pods]
  verbs: [get, list, watch, create, delete, patch]
- apiGroups: [""]
  resources: [persistentvolumeclaims]
  verbs: [get, create, patch]
- apiGroups: [""]
  resources: [secrets]
  verbs: [get, create]
- apiGroups: [""]
  resources: [events]
  verbs: [create, patch]
- apiGroups: [coordination.k8s.io]
  resources: [leases]
  verbs: [get, create, update, delete]
- apiGroups: [policy]
  resources: [poddisruptionbudgets]
  verbs: [get, create, patch]
{{- end }}
