-- deploy/kubernetes checked offline, as far as the tools here go: no cluster, no API
-- server, so no server-side schema. Every manifest parses (lyaml); kinds, apiVersions and
-- required fields; names, labels, selectors, ports and the namespace agree across files;
-- kustomization.yaml lists every manifest (and kubectl kustomize renders them, where
-- kubectl is installed); the ConfigMap is what the generator writes; nginx -t takes its
-- configuration; the entrypoint maps a pod's hostname to --node.
local helper = require "helper"
local manifests = require "manifests"

local DIR = manifests.DIR
local NAMESPACE = "sbx"

local API_VERSION = {
  Namespace = "v1", Service = "v1", Secret = "v1", ConfigMap = "v1",
  StatefulSet = "apps/v1", Deployment = "apps/v1",
  NetworkPolicy = "networking.k8s.io/v1", Ingress = "networking.k8s.io/v1",
  Kustomization = "kustomize.config.k8s.io/v1beta1",
}

local q = helper.q

--- Output and exit code of a shell command.
local function run(cmd)
  local out = helper.sh(cmd .. " 2>&1; echo \"rc=$?\"")
  return out:gsub("\n?rc=%d+$", ""), tonumber(out:match("rc=(%d+)$"))
end

local write_file = helper.write_file

local docs = manifests.load()
local function find(kind, name)
  return assert(manifests.find(docs, kind, name), ("no %s %s in %s"):format(kind, name, DIR))
end
local function first_container(workload)
  return workload.spec.template.spec.containers[1]
end

describe("deploy/kubernetes manifests", function()
  it("parse, one object each, of a known kind and apiVersion, named, in the namespace", function()
    local count = 0
    for file, list in pairs(docs) do
      assert.are.equal(1, #list, file)
      local doc = list[1]
      assert.are.equal(API_VERSION[doc.kind], doc.apiVersion, file .. ": " .. tostring(doc.kind))
      count = count + 1
      if doc.kind ~= "Kustomization" then
        assert.is_string(doc.metadata.name, file)
        if doc.kind == "Namespace" then
          assert.are.equal(NAMESPACE, doc.metadata.name)
        else
          assert.are.equal(NAMESPACE, doc.metadata.namespace, file)
        end
        assert.are.equal("sbx", doc.metadata.labels["app.kubernetes.io/part-of"], file)
      end
    end
    assert.are.equal(11, count)
  end)

  it("are all in kustomization.yaml but the examples, and kubectl kustomize renders them", function()
    local k = docs["kustomization.yaml"][1]
    local listed = {}
    for _, r in ipairs(k.resources) do listed[r] = true end
    for _, file in ipairs(manifests.files()) do
      local want = not file:match("%.example%.yaml$") and file ~= "kustomization.yaml"
      assert.are.equal(want, listed[file] == true, file)
    end
    assert.are.equal(8, #k.resources)
    -- the images the workloads name are the ones kustomization.yaml sets
    local images = {}
    for _, i in ipairs(k.images) do images[i.name] = true end
    assert.is_true(images[first_container(find("StatefulSet", "sbxd")).image:match("^[^:]+")])
    assert.is_true(images[first_container(find("Deployment", "sbx-nginx")).image:match("^[^:]+")])
    local _, has_kubectl = run("command -v kubectl")
    if has_kubectl ~= 0 then
      pending("kubectl is not installed: kustomize not run")
      return
    end
    local out, rc = run("kubectl kustomize " .. DIR)
    assert.are.equal(0, rc, out)
    -- the same objects as the files, in the namespace
    local want, got = {}, {}
    for _, file in ipairs(k.resources) do
      local doc = docs[file][1]
      want[#want + 1] = doc.kind .. "/" .. doc.metadata.name
    end
    for _, doc in ipairs(require("lyaml").load(out, { all = true })) do
      got[#got + 1] = doc.kind .. "/" .. doc.metadata.name
    end
    table.sort(want)
    table.sort(got)
    assert.are.same(want, got)
  end)

  it("the StatefulSet's pods: its headless Service, selectors, anti-affinity, probes, key, root", function()
    local sts = find("StatefulSet", "sbxd")
    local pod = sts.spec.template
    local labels = pod.metadata.labels
    assert.is_true(manifests.selects(sts.spec.selector.matchLabels, labels))
    -- the governing Service: headless, every pod (ready or not) by its stable name
    local svc = find("Service", sts.spec.serviceName)
    assert.are.same({ "None", true, true },
      { svc.spec.clusterIP, svc.spec.publishNotReadyAddresses, manifests.selects(svc.spec.selector, labels) })
    -- the Service of creates: headless, ready pods only
    local ready = find("Service", "sbxd-ready")
    assert.are.same({ "None", false, true },
      { ready.spec.clusterIP, ready.spec.publishNotReadyAddresses,
        manifests.selects(ready.spec.selector, labels) })
    -- one pod per Kubernetes node
    local anti = pod.spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[1]
    assert.are.equal("kubernetes.io/hostname", anti.topologyKey)
    assert.is_true(manifests.selects(anti.labelSelector.matchLabels, labels))
    local c = first_container(sts)
    assert.is_true(c.securityContext.privileged)
    local port = manifests.container_port(c, "http").containerPort
    for _, s in ipairs { svc, ready } do
      assert.are.same({ port }, { manifests.container_port(c, s.spec.ports[1].targetPort).containerPort })
    end
    for _, probe in ipairs { c.readinessProbe, c.livenessProbe } do
      assert.are.equal("/health", probe.httpGet.path)
      assert.are.equal(port, manifests.container_port(c, probe.httpGet.port).containerPort)
    end
    assert.are.same({ "--listen", "0.0.0.0:" .. port, "--root", c.volumeMounts[1].mountPath,
      "--cgroup-delegated" }, c.args)
    -- sbxd knows each of them: it parses them all before the last, --version, which exits
    local quoted = {}
    for i, a in ipairs(c.args) do quoted[i] = helper.q(a) end
    local version = helper.sh(("%s %s --version 2>&1"):format(helper.SBXD, table.concat(quoted, " ")))
    assert.matches("^sbxd %S+$", version)
    local volumes = {}
    for _, v in ipairs(pod.spec.volumes) do volumes[v.name] = v end
    assert.is_table(volumes[c.volumeMounts[1].name].emptyDir)
    -- the key comes from the Secret sbxd reads it from: $SBXD_API_KEY
    assert.are.equal("SBXD_API_KEY", c.env[1].name)
    local ref = c.env[1].valueFrom.secretKeyRef
    local secret = find("Secret", ref.name)
    assert.is_string(secret.stringData[ref.key])
  end)

  it("nginx's Deployment, Service and ConfigMap agree", function()
    local dep = find("Deployment", "sbx-nginx")
    local labels = dep.spec.template.metadata.labels
    assert.is_true(manifests.selects(dep.spec.selector.matchLabels, labels))
    local c = first_container(dep)
    local port = manifests.container_port(c, "http").containerPort
    local svc = find("Service", "sbx")
    assert.is_true(manifests.selects(svc.spec.selector, labels))
    assert.are.equal(port, manifests.container_port(c, svc.spec.ports[1].targetPort).containerPort)
    for _, probe in ipairs { c.readinessProbe, c.livenessProbe } do
      assert.are.equal(port, manifests.container_port(c, probe.httpGet.port).containerPort)
    end
    -- nginx -c names the ConfigMap's key under the volume's mount
    local mount = c.volumeMounts[1]
    local volume = dep.spec.template.spec.volumes[1]
    assert.are.equal(mount.name, volume.name)
    local cm = find("ConfigMap", volume.configMap.name)
    assert.are.same({ "nginx", "-c", mount.mountPath .. "/nginx.conf" },
      { c.command[1], c.command[2], c.command[3] })
    assert.is_truthy(cm.data["nginx.conf"]:match("\n        listen " .. port .. ";\n"))
    -- the sbxd StatefulSet is as many nodes as the ConfigMap routes to
    local replicas = find("StatefulSet", "sbxd").spec.replicas
    assert.are.equal(tostring(replicas), cm.metadata.annotations["sbx-nodes"])
  end)

  it("the NetworkPolicy admits nginx's pods to sbxd's port, and nothing else", function()
    local np = find("NetworkPolicy", "sbxd-from-nginx")
    local sbxd_pod = find("StatefulSet", "sbxd").spec.template.metadata.labels
    local nginx_pod = find("Deployment", "sbx-nginx").spec.template.metadata.labels
    assert.is_true(manifests.selects(np.spec.podSelector.matchLabels, sbxd_pod))
    assert.is_false(manifests.selects(np.spec.podSelector.matchLabels, nginx_pod))
    assert.are.same({ "Ingress" }, np.spec.policyTypes)
    assert.are.equal(1, #np.spec.ingress)
    local rule = np.spec.ingress[1]
    assert.are.equal(1, #rule.from)
    assert.is_true(manifests.selects(rule.from[1].podSelector.matchLabels, nginx_pod))
    assert.is_false(manifests.selects(rule.from[1].podSelector.matchLabels, sbxd_pod))
    local c = first_container(find("StatefulSet", "sbxd"))
    assert.are.same({ "TCP", 8080 },
      { rule.ports[1].protocol, manifests.container_port(c, rule.ports[1].port).containerPort })
  end)

  it("the Ingress example fronts the sbx Service over TLS, unbuffered, with long timeouts", function()
    local ing = find("Ingress", "sbx")
    local backend = ing.spec.rules[1].http.paths[1].backend.service
    local svc = find("Service", backend.name)
    assert.are.equal(backend.port.name, svc.spec.ports[1].name)
    assert.are.same({ ing.spec.rules[1].host }, ing.spec.tls[1].hosts)
    assert.is_string(ing.spec.tls[1].secretName)
    local a = ing.metadata.annotations
    local ingress = "nginx.ingress.kubernetes.io/"
    assert.are.same({ "off", "off", "0" }, { a[ingress .. "proxy-buffering"],
      a[ingress .. "proxy-request-buffering"], a[ingress .. "proxy-body-size"] })
    -- idle streams get a keep-alive every 15 s (sbxd's --keepalive default)
    assert.is_true(tonumber(a["nginx.ingress.kubernetes.io/proxy-read-timeout"]) > 15)
    assert.is_true(tonumber(a["nginx.ingress.kubernetes.io/proxy-send-timeout"]) > 15)
  end)

  it("the Containerfile copies only what exists and .dockerignore lets through", function()
    local cf = manifests.read_file(DIR .. "/Containerfile")
    local ignore = manifests.read_file(".dockerignore")
    local copied = 0
    for args in cf:gmatch("\nCOPY ([^\n]+)") do
      if not args:match("^%-%-from") then
        local srcs = {}
        for word in args:gmatch("%S+") do srcs[#srcs + 1] = word end
        for i = 1, #srcs - 1 do
          local _, rc = run("test -e " .. q(srcs[i]))
          assert.are.equal(0, rc, srcs[i])
          assert.is_truthy(ignore:find("\n!" .. srcs[i] .. "\n", 1, true), srcs[i])
          copied = copied + 1
        end
      end
    end
    assert.are.equal(3, copied)
    assert.is_truthy(cf:match("\nFROM [^\n]*debian:12[^\n]* AS nginx\n"))
    assert.is_truthy(cf:match("\nFROM [^\n]*debian:12%-slim AS sbxd\n[^\n]*\n[^\n]*\n[^\n]*bubblewrap"))
  end)
end)

describe("nginx-configmap.yaml", function()
  local cm = find("ConfigMap", "sbx-nginx")
  local conf = cm.data["nginx.conf"]

  it("is what nginx-configmap.sh writes now, and --check says so; a changed one it refuses", function()
    local out, rc = run(DIR .. "/nginx-configmap.sh --check")
    assert.are.equal(0, rc, out)
    assert.matches("nginx%-configmap%.yaml is what nginx%-configmap%.sh %-%-namespace sbx 4 writes$", out)
    local dir = helper.sh("mktemp -d")
    finally(function() helper.sh("rm -rf " .. q(dir)) end)
    local changed = manifests.read_file(DIR .. "/nginx-configmap.yaml")
      :gsub("proxy_read_timeout 120s", "proxy_read_timeout 1s")
    write_file(dir .. "/cm.yaml", changed)
    out, rc = run(DIR .. "/nginx-configmap.sh --check " .. q(dir .. "/cm.yaml"))
    assert.are.equal(1, rc, out)
    assert.matches("is not what nginx%-configmap%.sh %-%-namespace sbx 4 writes now", out)
    assert.matches("\n%-    +proxy_read_timeout 1s;", out)
  end)

  it("holds the generator's own output for the StatefulSet's pods and Services", function()
    local sts = find("StatefulSet", "sbxd")
    local port = first_container(sts).ports[1].containerPort
    local args = { "--listen", "8080", "--workers", "2",
      "--resolver", "kube-dns.kube-system.svc.cluster.local",
      "--any", ("sbxd-ready.%s.svc.cluster.local:%d"):format(NAMESPACE, port) }
    for n = 0, sts.spec.replicas - 1 do
      args[#args + 1] = "--node"
      args[#args + 1] = ("sbxd-%d.%s.%s.svc.cluster.local:%d")
        :format(n, sts.spec.serviceName, NAMESPACE, port)
    end
    local quoted = {}
    for i, a in ipairs(args) do quoted[i] = q(a) end
    assert.are.equal(conf, helper.sh("deploy/nginx/sbx-nginx-conf.sh " .. table.concat(quoted, " ")) .. "\n")
    -- no upstream group: nginx would resolve its servers once, at start
    assert.is_nil(conf:find("\n    upstream ", 1, true))
  end)

  it("passes nginx -t, resolving at start only the resolver's name", function()
    -- Env injection: nginx -t resolves the resolver's name (kube-dns) as it starts, and
    -- here no cluster DNS is. It runs in a private mount namespace (bwrap) whose
    -- /etc/hosts names kube-dns and nothing else, and whose resolv.conf points at a port
    -- nothing answers: every other name fails to resolve.
    local dir = helper.sh("mktemp -d")
    finally(function() helper.sh("rm -rf " .. q(dir)) end)
    write_file(dir .. "/hosts", "127.0.0.1 localhost\n127.0.0.53 kube-dns.kube-system.svc.cluster.local\n")
    write_file(dir .. "/resolv.conf", "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n")
    write_file(dir .. "/nginx.conf", conf)
    local function nginx_t(file)
      local d = q(dir)
      return run(("bwrap --dev-bind / / --ro-bind %s/hosts /etc/hosts --ro-bind %s/resolv.conf "
        .. "/etc/resolv.conf nginx -t -p %s -e %s/error.log -c %s"):format(d, d, d, d, q(dir .. "/" .. file)))
    end
    local out, rc = nginx_t("nginx.conf")
    assert.are.equal(0, rc, out)
    assert.matches("test is successful", out)
    -- the same nodes in an upstream group (no --any): nginx resolves them at start, and
    -- a pod's name that does not resolve yet stops it
    write_file(dir .. "/upstream.conf", helper.sh("deploy/nginx/sbx-nginx-conf.sh --listen 8080 "
      .. "--resolver kube-dns.kube-system.svc.cluster.local --node sbxd-0.sbxd.sbx.svc.cluster.local:8080"))
    out, rc = nginx_t("upstream.conf")
    assert.are.equal(1, rc, out)
    assert.matches('host not found in upstream "sbxd%-0%.sbxd%.sbx%.svc%.cluster%.local:8080"', out)
  end)
end)

describe("nginx-configmap.sh", function()
  it("writes for another namespace and number of nodes, and refuses what is not one", function()
    local out, rc = run(DIR .. "/nginx-configmap.sh --namespace tools 2")
    assert.are.equal(0, rc, out)
    local cm = require("lyaml").load(out)
    assert.are.same({ "tools", "2" }, { cm.metadata.namespace, cm.metadata.annotations["sbx-nodes"] })
    assert.is_truthy(cm.data["nginx.conf"]:find('1 "sbxd-1.sbxd.tools.svc.cluster.local:8080";', 1, true))
    assert.is_nil(cm.data["nginx.conf"]:find("sbxd-2.", 1, true))
    assert.is_truthy(cm.data["nginx.conf"]:find('set $sbx_any "sbxd-ready.tools.svc.cluster.local:8080";',
      1, true))
    for _, bad in ipairs { "0", "x", "01", "10001", "" } do
      out, rc = run(DIR .. "/nginx-configmap.sh " .. q(bad))
      assert.are.equal(2, rc, bad)
      assert.matches("^usage: ", out)
    end
  end)
end)

describe("sbxd-entrypoint.sh", function()
  -- A test double for the exec target only: an `sbxd` on PATH that prints its arguments,
  -- so that what the entrypoint would run is seen without starting a daemon.
  local dir
  setup(function()
    dir = helper.sh("mktemp -d")
    write_file(dir .. "/sbxd", "#!/bin/sh\necho \"sbxd $*\"\n")
    helper.sh("chmod +x " .. q(dir .. "/sbxd"))
  end)
  teardown(function() helper.sh("rm -rf " .. q(dir)) end)

  local function entrypoint(hostname)
    return run(("HOSTNAME=%s PATH=%s:$PATH %s/sbxd-entrypoint.sh --listen 0.0.0.0:8080 --root /var/lib/sbxd")
      :format(q(hostname), q(dir), DIR))
  end

  it("runs sbxd --node N for pod NAME-N, with the arguments it was given", function()
    local nodes = { ["sbxd-0"] = "0", ["sbxd-3"] = "3", ["sbx-sbxd-12"] = "12", ["sbxd-9999"] = "9999" }
    for hostname, node in pairs(nodes) do
      local out, rc = entrypoint(hostname)
      assert.are.same({ 0, "sbxd --node " .. node .. " --listen 0.0.0.0:8080 --root /var/lib/sbxd" },
        { rc, out })
    end
  end)

  it("refuses a hostname that names no node, and runs nothing", function()
    for _, hostname in ipairs { "sbxd", "sbxd-", "sbxd-x", "sbxd-07", "sbxd-10000", "-3", "sbxd-3a" } do
      local out, rc = entrypoint(hostname)
      assert.are.same({ 2, ("sbxd-entrypoint: hostname '%s' is not NAME-N with N from 0 to 9999 "
        .. "(a StatefulSet pod's)"):format(hostname) }, { rc, out })
    end
  end)
end)
