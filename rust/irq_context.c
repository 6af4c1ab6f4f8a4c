// SPDX-License-Identifier: GPL-2.0
/*
 * The execution context as the kernel itself sees it, preemption control, and
 * another online CPU. These are macros and inline functions in C, so the kernel
 * crate has no bindings for them; the handler calls these to log evidence of
 * where it runs, and process context disables preemption so that the timer's
 * interrupts always interrupt it. Their Rust declarations are in rust/ffi.rs.
 */

#include <linux/cpumask.h>
#include <linux/irqflags.h>
#include <linux/preempt.h>
#include <linux/sched.h>
#include <linux/smp.h>

int irqlock_in_hardirq(void);
int irqlock_in_serving_softirq(void);
int irqlock_irqs_disabled(void);
unsigned int irqlock_preempt_count(void);
void irqlock_preempt_disable(void);
void irqlock_preempt_enable(void);
int irqlock_other_cpu(void);

int irqlock_in_hardirq(void)
{
	return in_hardirq() ? 1 : 0;
}

int irqlock_in_serving_softirq(void)
{
	return in_serving_softirq() ? 1 : 0;
}

int irqlock_irqs_disabled(void)
{
	return irqs_disabled() ? 1 : 0;
}

unsigned int irqlock_preempt_count(void)
{
	return preempt_count();
}

void irqlock_preempt_disable(void)
{
	preempt_disable();
}

void irqlock_preempt_enable(void)
{
	preempt_enable();
}

/* A CPU other than the caller's that is online, or -1. */
int irqlock_other_cpu(void)
{
	unsigned int cpu = cpumask_any_but(cpu_online_mask, raw_smp_processor_id());

	return cpu < nr_cpu_ids ? (int)cpu : -1;
}
