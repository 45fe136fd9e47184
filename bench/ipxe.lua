-- wrk script: each request asks for the next MAC of the table `macs`, which bench/run.sh puts
-- in front of this file (one entry per seeded host). Each wrk thread starts at its own place
-- in the table. run.sh may set path_prefix/path_suffix (and wrk.headers) before this part to
-- rotate over another per-MAC URL.
path_prefix = path_prefix or "/ipxe?mac="
path_suffix = path_suffix or "&platform=pcbios"

local threads = 0
function setup(thread)
	thread:set("offset", threads * 4999)
	threads = threads + 1
end

local i = 0
function init(args)
	i = (offset or 0) % #macs
end

function request()
	i = i % #macs + 1
	return wrk.format("GET", path_prefix .. macs[i] .. path_suffix)
end
