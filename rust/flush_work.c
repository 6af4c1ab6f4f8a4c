// SPDX-License-Identifier: GPL-2.0
/*
 * Waiting for a queued work item at unload. The 7.3 kernel crate can queue
 * work but has no flush or cancel, and a work item that runs after rmmod
 * would run code that is no longer there.
 */

#include <linux/workqueue.h>

void irqlock_flush_work(struct work_struct *work);

void irqlock_flush_work(struct work_struct *work)
{
	flush_work(work);
}
