{{- define "sec0-gateway.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "sec0-gateway.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "sec0-gateway.selector" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "sec0-gateway.redisName" -}}
{{- printf "%s-redis" (include "sec0-gateway.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The gateway configuration: the user's, with listeners, rules (or, with
config.policy.source, the bundle cache directory) and store filled in. */}}
{{- define "sec0-gateway.config" -}}
{{- $cfg := deepCopy .Values.config -}}
{{- $_ := set $cfg "listen" (printf "0.0.0.0:%v" .Values.service.port) -}}
{{- $admin := default dict $cfg.admin -}}
{{- $_ := set $admin "listen" (printf "0.0.0.0:%v" .Values.service.adminPort) -}}
{{- $_ := set $cfg "admin" $admin -}}
{{- $policy := default dict $cfg.policy -}}
{{- if $policy.source -}}
{{- if not $policy.cache_dir -}}
{{- $_ := set $policy "cache_dir" "/var/cache/sec0-gateway/policy" -}}
{{- end -}}
{{- else -}}
{{- $_ := set $policy "rules" "/etc/sec0-gateway/rules" -}}
{{- end -}}
{{- $_ := set $cfg "policy" $policy -}}
{{- if or .Values.redis.enabled .Values.redis.url -}}
{{- $url := .Values.redis.url | default (printf "redis://%s:6379/" (include "sec0-gateway.redisName" .)) -}}
{{- $_ := set $cfg "store" (dict "backend" "redis" "redis" (dict "url" $url) "on_unavailable" .Values.redis.onUnavailable) -}}
{{- end -}}
{{- toYaml $cfg -}}
{{- end -}}

{{/* Whether the rules come from a signed bundle source (config.policy.source). */}}
{{- define "sec0-gateway.bundleSource" -}}
{{- if (dig "policy" "source" "" .Values.config) -}}true{{- end -}}
{{- end -}}

{{/* The Secret holding the replicas' session affinity key: sessionAffinityKey.existingSecret,
else the one the chart generates (sessionAffinityKey.generate), else none. */}}
{{- define "sec0-gateway.sessionKeySecret" -}}
{{- if .Values.sessionAffinityKey.existingSecret -}}
{{- .Values.sessionAffinityKey.existingSecret -}}
{{- else if .Values.sessionAffinityKey.generate -}}
{{- printf "%s-session-key" (include "sec0-gateway.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
