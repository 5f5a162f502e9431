{{/*
_helpers.tpl -- names, labels, the agent's config, and the pod-spec pieces an
app's own chart includes to get the tokenwell sidecar:

  spec:
    template:
      metadata:
        labels:      {{- include "tokenwell.podLabels" . | nindent 8 }}
        annotations: {{- include "tokenwell.podAnnotations" . | nindent 8 }}
      spec:
        initContainers: {{- include "tokenwell.initContainers" . | nindent 8 }}
        containers:
          {{- include "tokenwell.containers" . | nindent 8 }}
          - name: app
            env:          {{- include "tokenwell.appEnv" . | nindent 12 }}
            volumeMounts: {{- include "tokenwell.appVolumeMounts" . | nindent 12 }}
        volumes: {{- include "tokenwell.volumes" . | nindent 8 }}

Every pod-spec template takes the caller's root context. Called from this
chart, the settings are .Values; called from a parent chart that has tokenwell
as a dependency, they are .Values.tokenwell (Helm merges this chart's defaults
into it). The resource names do not depend on which chart renders them, so the
parent's pod finds the ConfigMap this chart renders.
*/}}

{{/* This chart's settings, from either context, as YAML (use with fromYaml). */}}
{{- define "tokenwell.settings" -}}
{{- if eq .Chart.Name "tokenwell" -}}
{{- toYaml .Values -}}
{{- else if hasKey .Values "tokenwell" -}}
{{- toYaml .Values.tokenwell -}}
{{- else -}}
{{- fail (printf "tokenwell templates included from chart %q, which has no .Values.tokenwell: add the tokenwell chart as a dependency (see helm/examples/app-chart)" .Chart.Name) -}}
{{- end -}}
{{- end -}}

{{- define "tokenwell.name" -}}
{{- $v := include "tokenwell.settings" . | fromYaml -}}
{{- default "tokenwell" $v.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* RELEASE-tokenwell, or the release name if it already says tokenwell. */}}
{{- define "tokenwell.fullname" -}}
{{- $v := include "tokenwell.settings" . | fromYaml -}}
{{- if $v.fullnameOverride -}}
{{- $v.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default "tokenwell" $v.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "tokenwell.configMapName" -}}
{{- printf "%s-config" (include "tokenwell.fullname" . | trunc 56 | trimSuffix "-") -}}
{{- end -}}

{{- define "tokenwell.serviceAccountName" -}}
{{- $v := include "tokenwell.settings" . | fromYaml -}}
{{- default (include "tokenwell.fullname" .) $v.serviceAccount.name -}}
{{- end -}}

{{/* Selector labels: stable across upgrades, so never the chart version. */}}
{{- define "tokenwell.selectorLabels" -}}
app.kubernetes.io/name: {{ include "tokenwell.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "tokenwell.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "tokenwell.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: tokenwell
{{- end -}}

{{/* The agent's image; the tag defaults to this chart's appVersion, also
     when a parent chart includes the templates (its .Chart is its own). */}}
{{- define "tokenwell.image" -}}
{{- $v := include "tokenwell.settings" . | fromYaml -}}
{{- $appVersion := .Chart.AppVersion -}}
{{- if and (ne .Chart.Name "tokenwell") .Subcharts (hasKey .Subcharts "tokenwell") -}}
{{- $appVersion = (index .Subcharts "tokenwell").Chart.AppVersion -}}
{{- end -}}
{{- printf "%s:%s" $v.image.repository (default $appVersion $v.image.tag) -}}
{{- end -}}

{{/* The TCP port of config.listen ("0.0.0.0:9464" -> 9464). */}}
{{- define "tokenwell.listenPort" -}}
{{- $v := include "tokenwell.settings" . | fromYaml -}}
{{- last (splitList ":" $v.config.listen) -}}
{{- end -}}

{{/* "true" when the sidecar is an init container with restartPolicy: Always
     (Kubernetes >= 1.29, where SidecarContainers is on by default). */}}
{{- define "tokenwell.native" -}}
{{- $v := include "tokenwell.settings" . | fromYaml -}}
{{- if eq $v.sidecar.mode "native" -}}true
{{- else if eq $v.sidecar.mode "auto" -}}
{{- if semverCompare ">=1.29-0" .Capabilities.KubeVersion.Version -}}true{{- end -}}
{{- end -}}
{{- end -}}

{{/* The app's identity in workload mode: its uid, and the groups that own
     the segment (fsGroup) and that it runs as (runAsGroup). */}}
{{- define "tokenwell.appIds" -}}
{{- $v := include "tokenwell.settings" . | fromYaml -}}
{{- $uids := list -}}
{{- $gids := list -}}
{{- if $v.workload.enabled -}}
{{- with $v.workload.securityContext.runAsUser }}{{ $uids = append $uids . }}{{ end -}}
{{- with $v.workload.securityContext.runAsGroup }}{{ $gids = append $gids . }}{{ end -}}
{{- with $v.workload.podSecurityContext.fsGroup }}{{ $gids = append $gids . }}{{ end -}}
{{- end -}}
{{- toYaml (dict "uids" $uids "gids" $gids) -}}
{{- end -}}

{{/* The agent's JSON config (docs/config.md). */}}
{{- define "tokenwell.config" -}}
{{- $v := include "tokenwell.settings" . | fromYaml -}}
{{- $app := include "tokenwell.appIds" . | fromYaml -}}
{{- $uids := concat (list) ($v.config.allow.uids | default list) $app.uids -}}
{{- $gids := concat (list) ($v.config.allow.gids | default list) $app.gids -}}
{{- with $v.sidecar.securityContext.runAsUser }}{{ $uids = append $uids . }}{{ end -}}
{{- with $v.sidecar.securityContext.runAsGroup }}{{ $gids = append $gids . }}{{ end -}}
{{- $config := dict
    "runtime_dir" $v.runtime.dir
    "listen" $v.config.listen
    "log" $v.config.log
    "allow" (dict "uids" ($uids | uniq) "gids" ($gids | uniq))
    "credentials" ($v.config.credentials | default list)
    "keysets" ($v.config.keysets | default list) -}}
{{- toPrettyJson $config -}}
{{- end -}}

{{/* Pod labels the sidecar needs (merge with your own). */}}
{{- define "tokenwell.podLabels" -}}
{{- $v := include "tokenwell.settings" . | fromYaml -}}
{{- if $v.azureWorkloadIdentity.enabled -}}
azure.workload.identity/use: "true"
{{- end -}}
{{- end -}}

{{/* Pod annotations: the config checksum (a config change rolls the pods)
     and, with workload identity, the containers the webhook skips. Pass
     (dict "ctx" $ "appContainers" (list "app")) to name the app containers. */}}
{{- define "tokenwell.podAnnotations" -}}
{{- $ctx := . -}}
{{- $apps := list -}}
{{- if hasKey . "ctx" -}}{{- $ctx = .ctx -}}{{- $apps = .appContainers | default list -}}{{- end -}}
{{- $v := include "tokenwell.settings" $ctx | fromYaml -}}
checksum/tokenwell-config: {{ include "tokenwell.config" $ctx | sha256sum }}
{{- if and $v.azureWorkloadIdentity.enabled $v.azureWorkloadIdentity.onlySidecar $apps }}
azure.workload.identity/skip-containers: {{ join ";" $apps | quote }}
{{- end }}
{{- end -}}

{{/* The pod volume that holds agent.json (the injector points it at the
     ConfigMap a pod's tokenwell.io/config annotation names). */}}
{{- define "tokenwell.configVolumeName" -}}
{{- $v := include "tokenwell.settings" . | fromYaml -}}
{{- printf "%s-config" $v.runtime.volumeName -}}
{{- end -}}

{{/* The volumes: the shared in-memory runtime directory and the config. */}}
{{- define "tokenwell.volumes" -}}
{{- $v := include "tokenwell.settings" . | fromYaml -}}
- name: {{ $v.runtime.volumeName }}
  emptyDir:
    medium: Memory
    sizeLimit: {{ $v.runtime.sizeLimit }}
- name: {{ include "tokenwell.configVolumeName" . }}
  configMap:
    name: {{ include "tokenwell.configMapName" . }}
{{- with $v.sidecar.extraVolumes }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* The app container's mount: read-only, readers map the segment PROT_READ
     and may still connect to the socket. */}}
{{- define "tokenwell.appVolumeMounts" -}}
{{- $v := include "tokenwell.settings" . | fromYaml -}}
- name: {{ $v.runtime.volumeName }}
  mountPath: {{ $v.runtime.dir }}
  readOnly: true
{{- end -}}

{{- define "tokenwell.appEnv" -}}
{{- $v := include "tokenwell.settings" . | fromYaml -}}
- name: TOKENWELL_DIR
  value: {{ $v.runtime.dir | quote }}
{{- end -}}

{{/* The agent container, native or classic (see the two callers below). */}}
{{- define "tokenwell.agentContainer" -}}
{{- $ctx := .ctx -}}
{{- $v := include "tokenwell.settings" $ctx | fromYaml -}}
{{- $native := .native -}}
{{- $first := "" -}}
{{- with $v.config.credentials }}{{ $first = (first .).name }}{{ end -}}
- name: {{ $v.sidecar.name }}
  image: {{ include "tokenwell.image" $ctx | quote }}
  imagePullPolicy: {{ $v.image.pullPolicy }}
  {{- if $native }}
  # A native sidecar: starts before, and outlives, the app containers.
  restartPolicy: Always
  {{- end }}
  args:
    - --config
    - /etc/tokenwell/agent.json
    {{- with $v.sidecar.extraArgs }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  env:
    - name: TOKENWELL_DIR
      value: {{ $v.runtime.dir | quote }}
    {{- with $v.sidecar.extraEnv }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  ports:
    - name: tw-metrics
      containerPort: {{ include "tokenwell.listenPort" $ctx }}
      protocol: TCP
  startupProbe:
    httpGet:
      path: /readyz
      port: tw-metrics
    {{- toYaml $v.sidecar.startupProbe | nindent 4 }}
  readinessProbe:
    httpGet:
      path: /readyz
      port: tw-metrics
    {{- toYaml $v.sidecar.readinessProbe | nindent 4 }}
  livenessProbe:
    httpGet:
      path: /healthz
      port: tw-metrics
    {{- toYaml $v.sidecar.livenessProbe | nindent 4 }}
  {{- if and (not $native) $first }}
  lifecycle:
    # Classic fallback: the kubelet starts the next container only after
    # this hook returns, i.e. once the first credential is published.
    postStart:
      exec:
        command:
          - /usr/local/bin/tokenwell
          - wait
          - {{ $first | quote }}
          - --after
          - "0"
          - --timeout
          - {{ $v.sidecar.classicStartTimeoutSeconds | quote }}
  {{- end }}
  resources:
    {{- toYaml $v.sidecar.resources | nindent 4 }}
  securityContext:
    {{- toYaml $v.sidecar.securityContext | nindent 4 }}
  volumeMounts:
    - name: {{ $v.runtime.volumeName }}
      mountPath: {{ $v.runtime.dir }}
    - name: {{ include "tokenwell.configVolumeName" $ctx }}
      mountPath: /etc/tokenwell
      readOnly: true
    {{- with $v.sidecar.extraVolumeMounts }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
{{- end -}}

{{/* For initContainers: the native sidecar (empty in classic mode). */}}
{{- define "tokenwell.initContainers" -}}
{{- if include "tokenwell.native" . -}}
{{- include "tokenwell.agentContainer" (dict "ctx" . "native" true) -}}
{{- end -}}
{{- end -}}

{{/* For containers, listed first: the classic sidecar (empty in native mode). */}}
{{- define "tokenwell.containers" -}}
{{- if not (include "tokenwell.native" .) -}}
{{- include "tokenwell.agentContainer" (dict "ctx" . "native" false) -}}
{{- end -}}
{{- end -}}

{{/* --- The injector (injector.enabled; docs/injector.md) ------------------ */}}

{{- define "tokenwell.injector.fullname" -}}
{{- printf "%s-injector" (include "tokenwell.fullname" . | trunc 54 | trimSuffix "-") -}}
{{- end -}}

{{/* Its own name label, so no selector of the example workload (name,
     instance) ever matches the injector's pods. */}}
{{- define "tokenwell.injector.selectorLabels" -}}
app.kubernetes.io/name: {{ printf "%s-injector" (include "tokenwell.name" .) | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "tokenwell.injector.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "tokenwell.injector.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: tokenwell
app.kubernetes.io/component: injector
{{- end -}}

{{- define "tokenwell.injector.tlsSecretName" -}}
{{- printf "%s-tls" (include "tokenwell.injector.fullname" .) -}}
{{- end -}}

{{/* The names the serving certificate must hold: the Service's DNS names. */}}
{{- define "tokenwell.injector.dnsNames" -}}
{{- $svc := include "tokenwell.injector.fullname" . -}}
{{- toYaml (list $svc (printf "%s.%s" $svc .Release.Namespace) (printf "%s.%s.svc" $svc .Release.Namespace) (printf "%s.%s.svc.cluster.local" $svc .Release.Namespace)) -}}
{{- end -}}

{{/* What the injector splices into a pod: the named templates above,
     rendered once for each sidecar mode (see injector/include/tokenwell/
     injector/sidecar_spec.hpp for the format). The default mode follows
     sidecar.mode and, for auto, the cluster's version. */}}
{{- define "tokenwell.injector.sidecarSpec" -}}
{{- $spec := dict
    "default_mode" (ternary "native" "classic" (eq (include "tokenwell.native" .) "true"))
    "native_container" (include "tokenwell.agentContainer" (dict "ctx" . "native" true) | fromYamlArray | first)
    "classic_container" (include "tokenwell.agentContainer" (dict "ctx" . "native" false) | fromYamlArray | first)
    "volumes" (include "tokenwell.volumes" . | fromYamlArray)
    "config_volume" (include "tokenwell.configVolumeName" .)
    "app_volume_mounts" (include "tokenwell.appVolumeMounts" . | fromYamlArray)
    "app_env" (include "tokenwell.appEnv" . | fromYamlArray)
    "fs_group" .Values.injector.fsGroup -}}
{{- toPrettyJson $spec -}}
{{- end -}}
