// SPDX-License-Identifier: GPL-2.0
/*
 * flush_work() for exercise 3: the 7.3 kernel crate can queue work but has
 * no flush or cancel. Part of the exercise's frame, not the learner's file.
 */

#include <linux/workqueue.h>

void ex03_flush_work(struct work_struct *work);

void ex03_flush_work(struct work_struct *work)
{
	flush_work(work);
}
