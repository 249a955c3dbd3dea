// The umbrella header: the whole core (Boost.Hana and range-v3 are its only dependencies).
// Components with other dependencies (strata/io/pcap_file.hpp: libpcap) are included on their own.
#pragma once

#include <strata/address.hpp>
#include <strata/arbitration.hpp>
#include <strata/condition.hpp>
#include <strata/engine.hpp>
#include <strata/field.hpp>
#include <strata/filter.hpp>
#include <strata/host.hpp>
#include <strata/io/format.hpp>
#include <strata/layer.hpp>
#include <strata/packet/parse.hpp>
#include <strata/path.hpp>
#include <strata/pipeline.hpp>
#include <strata/policy.hpp>
#include <strata/record.hpp>
#include <strata/render.hpp>
#include <strata/version.hpp>
#include <strata/views.hpp>
