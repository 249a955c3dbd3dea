// Least privilege for live capture (libcap-ng): once its packet and netlink sockets are open, a live
// tool needs no privilege at all to read them, so it becomes an unprivileged user (like tcpdump -Z)
// keeping only the capabilities it is told to keep (none by default).
//
//   strata::live::drop_privileges("nobody");   // after opening every socket, before starting threads
//
// Capabilities are per thread: call this while the process has one thread, so that every thread
// started later inherits the reduced set. CMake target strata::live (libcap-ng).
#pragma once

#include <cap-ng.h>
#include <pwd.h>
#include <sys/types.h>
#include <unistd.h>

#include <cerrno>
#include <initializer_list>
#include <string>

#include <strata/live/af_packet.hpp>

namespace strata::live {

/// What `drop_privileges` did.
struct privilege_drop {
  uid_t uid = 0;
  gid_t gid = 0;
  std::string user;
};

/// Becomes `user` (its uid and primary gid, no supplementary groups, an empty bounding set) keeping only
/// the capabilities in `keep` (e.g. CAP_NET_RAW to reopen sockets later). Needs root (CAP_SETUID,
/// CAP_SETGID). Throws `error` (permission_denied when not privileged, invalid_argument for an unknown
/// user). Afterwards the process can neither regain root nor open a new packet socket.
inline privilege_drop drop_privileges(const std::string& user, std::initializer_list<unsigned> keep = {}) {
  errno = 0;
  const passwd* pw = ::getpwnam(user.c_str());
  if (pw == nullptr) throw error(errc::invalid_argument, "", ENOENT, "--user " + user + ": no such user");
  privilege_drop d{pw->pw_uid, pw->pw_gid, user};
  if (::geteuid() != 0)
    throw error(errc::permission_denied, "", EPERM,
                "--user " + user + ": changing user needs root (run as root, or leave --user out)");
  ::capng_clear(CAPNG_SELECT_BOTH);
  for (unsigned cap : keep)
    ::capng_update(CAPNG_ADD, static_cast<capng_type_t>(CAPNG_EFFECTIVE | CAPNG_PERMITTED), cap);
  const int rc = ::capng_change_id(static_cast<int>(d.uid), static_cast<int>(d.gid),
                                   static_cast<capng_flags_t>(CAPNG_DROP_SUPP_GRP | CAPNG_CLEAR_BOUNDING));
  if (rc != 0)
    throw error(errc::system, "", errno,
                "--user " + user + ": cannot change to uid " + std::to_string(d.uid) + " (libcap-ng error " +
                    std::to_string(rc) + ")");
  if (::getuid() != d.uid || ::geteuid() != d.uid || ::getgid() != d.gid)
    throw error(errc::system, "", 0, "--user " + user + ": the user change did not take effect");
  return d;
}

/// Whether the calling thread holds any capability in its effective or permitted set.
inline bool has_capabilities() {
  ::capng_get_caps_process();
  return ::capng_have_capabilities(CAPNG_SELECT_CAPS) != CAPNG_NONE;
}

}  // namespace strata::live
