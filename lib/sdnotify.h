/* SPDX-License-Identifier: MIT */
/* systemd's notify protocol (READY=1, STATUS=, WATCHDOG=1, STOPPING=1) over
 * $NOTIFY_SOCKET, without libsystemd. A no-op when the variable is unset. */
#ifndef BATON_SDNOTIFY_H
#define BATON_SDNOTIFY_H

#include <stdbool.h>
#include <stdint.h>

/* Send @state (e.g. "READY=1\nSTATUS=leader"). Returns 0, 0 when not under
 * systemd, or a negative errno. */
int baton_sd_notify(const char *state);
/* The watchdog interval from $WATCHDOG_USEC (and $WATCHDOG_PID, if set, must
 * be ours), in ms; 0 when the watchdog is off. */
uint64_t baton_sd_watchdog_ms(void);

#endif
