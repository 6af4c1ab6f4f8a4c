// SPDX-License-Identifier: GPL-2.0

//! Module parameters that take a name from a fixed list, such as `lock=mutex`.
//!
//! The `module!` macro of this kernel accepts only integers and `bool`, so named parameters
//! register their own `struct kernel_param` with `set` and `get` operations. An unknown name is
//! refused with `EINVAL` and a message that lists the accepted names; the current value is
//! readable at `/sys/module/irqlock/parameters/<name>`.

use core::marker::PhantomData;
use kernel::{
    bindings,
    prelude::*,
    str::BStr,
    sync::atomic::{
        ordering,
        Atomic, //
    }, //
};

/// A type whose values are chosen by name on the `insmod` command line.
pub(crate) trait Choice: Copy + 'static {
    /// The parameter's name, as typed by the user.
    const PARAM: &'static str;

    /// Every value, in the order in which [`Choice::name`] lists them.
    const ALL: &'static [Self];

    /// The name the user types for this value.
    fn name(self) -> &'static str;
}

/// The storage behind one named parameter: the index of the chosen value in [`Choice::ALL`].
pub(crate) struct ChoiceParam<T: Choice> {
    index: Atomic<i32>,
    /// Whether the `insmod` command line named this parameter.
    given: Atomic<bool>,
    _choice: PhantomData<T>,
}

impl<T: Choice> ChoiceParam<T> {
    /// A parameter whose value is `T::ALL[default]` until the user sets it.
    pub(crate) const fn new(default: i32) -> Self {
        Self {
            index: Atomic::new(default),
            given: Atomic::new(false),
            _choice: PhantomData,
        }
    }

    /// Whether the user named this parameter, rather than leaving the default.
    pub(crate) fn given(&self) -> bool {
        self.given.load(ordering::Relaxed)
    }

    /// The value chosen at load time, or the default.
    pub(crate) fn get(&self) -> T {
        let index = self.index.load(ordering::Relaxed);
        // `index` only ever holds a valid index: `new` is given one and `set` stores only those.
        T::ALL[usize::try_from(index).unwrap_or(0) % T::ALL.len()]
    }

    /// The address the kernel hands back to [`set_choice`] and [`get_choice`].
    pub(crate) const fn as_arg(&'static self) -> *mut c_void {
        core::ptr::from_ref(self).cast_mut().cast()
    }

    fn set(&self, name: &[u8]) -> Result {
        let name = name.strip_suffix(b"\n").unwrap_or(name);
        match T::ALL
            .iter()
            .position(|value| value.name().as_bytes() == name)
        {
            Some(index) => {
                // `ALL` is a short, fixed list: its indices fit in an `i32`.
                self.index.store(index as i32, ordering::Relaxed);
                self.given.store(true, ordering::Relaxed);
                Ok(())
            }
            None => {
                pr_err!(
                    "unknown {}={}; accepted: {}\n",
                    T::PARAM,
                    BStr::from_bytes(name),
                    Names::<T>(PhantomData)
                );
                Err(EINVAL)
            }
        }
    }
}

/// Formats the accepted names of a [`Choice`], separated by commas.
pub(crate) struct Names<T: Choice>(pub(crate) PhantomData<T>);

impl<T: Choice> kernel::fmt::Display for Names<T> {
    fn fmt(&self, f: &mut kernel::fmt::Formatter<'_>) -> kernel::fmt::Result {
        for (i, value) in T::ALL.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            f.write_str(value.name())?;
        }
        Ok(())
    }
}

/// `kernel_param_ops.set` for a named parameter.
///
/// # Safety
///
/// Must only be called by the kernel's parameter code for a `kernel_param` made by
/// [`choice_param!`]: `val` is a NUL-terminated string valid for the call (never null, as the
/// ops lack `KERNEL_PARAM_OPS_FL_NOARG`: the kernel refuses a bare `lock` itself), and `kp`
/// points to a valid `kernel_param` whose `arg` is the address of a `static ChoiceParam<T>`.
pub(crate) unsafe extern "C" fn set_choice<T: Choice>(
    val: *const c_char,
    kp: *const bindings::kernel_param,
) -> c_int {
    // SAFETY: By the function's safety requirements `val` is a non-null, NUL-terminated string
    // valid for the duration of this call.
    let name = unsafe { CStr::from_char_ptr(val) };
    // SAFETY: By the function's safety requirements `kp` is valid for reads and `arg` is the
    // address of a `static ChoiceParam<T>`, which lives for the whole life of the module.
    let param = unsafe { &*(*kp).__bindgen_anon_1.arg.cast::<ChoiceParam<T>>() };
    match param.set(name.to_bytes()) {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

/// `kernel_param_ops.get` for a named parameter: writes the current name and a newline.
///
/// # Safety
///
/// Must only be called by the kernel's parameter code for a `kernel_param` made by
/// [`choice_param!`]: `buffer` is valid for writes of `PAGE_SIZE` bytes and `kp` points to a
/// valid `kernel_param` whose `arg` is the address of a `static ChoiceParam<T>`.
pub(crate) unsafe extern "C" fn get_choice<T: Choice>(
    buffer: *mut c_char,
    kp: *const bindings::kernel_param,
) -> c_int {
    // SAFETY: As in `set_choice`: `arg` is the address of a `static ChoiceParam<T>`.
    let param = unsafe { &*(*kp).__bindgen_anon_1.arg.cast::<ChoiceParam<T>>() };
    let name = param.get().name().as_bytes();
    // SAFETY: `buffer` is valid for `PAGE_SIZE` bytes, far more than a short name and a newline,
    // and it cannot overlap the name, which is a string constant of this module.
    unsafe {
        core::ptr::copy_nonoverlapping(name.as_ptr(), buffer.cast::<u8>(), name.len());
        *buffer.add(name.len()) = b'\n' as c_char;
    }
    // A short name and a newline always fit in an `i32`.
    (name.len() + 1) as c_int
}

/// Copies a `.modinfo` string into an array of its length, at compile time.
pub(crate) const fn modinfo<const N: usize>(entry: &str) -> [u8; N] {
    let bytes = entry.as_bytes();
    let mut out = [0u8; N];
    let mut i = 0;
    while i < N {
        out[i] = bytes[i];
        i += 1;
    }
    out
}

/// Declares a named module parameter of type `$ty`, stored in a `static $name`, with an entry
/// in the module's `__param` section (readable in sysfs, mode 0444) and in `modinfo`.
macro_rules! choice_param {
    ($name:ident: $ty:ty = $default:expr, $desc:literal) => {
        #[expect(non_upper_case_globals)]
        pub(crate) static $name: $crate::param::ChoiceParam<$ty> =
            $crate::param::ChoiceParam::new($default as i32);

        const _: () = {
            static OPS: ::kernel::bindings::kernel_param_ops =
                ::kernel::bindings::kernel_param_ops {
                    // Not `KERNEL_PARAM_OPS_FL_NOARG`: `set_choice` always receives a value.
                    flags: 0,
                    set: Some($crate::param::set_choice::<$ty>),
                    get: Some($crate::param::get_choice::<$ty>),
                    free: None,
                };

            #[link_section = "__param"]
            #[used(compiler)]
            static PARAM: ::kernel::module_param::KernelParam =
                ::kernel::module_param::KernelParam::new(::kernel::bindings::kernel_param {
                    name: ::kernel::str::as_char_ptr_in_const_context(
                        match ::core::ffi::CStr::from_bytes_with_nul(
                            concat!(stringify!($name), "\0").as_bytes(),
                        ) {
                            Ok(name) => name,
                            Err(_) => panic!("parameter name contains a NUL byte"),
                        },
                    ),
                    // The kernel fills in `__this_module` at load time and keeps it until unload.
                    mod_: (&raw const ::kernel::bindings::__this_module).cast_mut(),
                    ops: ::core::ptr::from_ref(&OPS),
                    perm: 0o444,
                    level: -1,
                    flags: 0,
                    __bindgen_anon_1: ::kernel::bindings::kernel_param__bindgen_ty_1 {
                        arg: $name.as_arg(),
                    },
                });

            // What `modinfo irqlock.ko` shows for the parameter.
            #[link_section = ".modinfo"]
            #[used(compiler)]
            static PARMTYPE: [u8; concat!("parmtype=", stringify!($name), ":charp\0").len()] =
                $crate::param::modinfo(concat!("parmtype=", stringify!($name), ":charp\0"));

            #[link_section = ".modinfo"]
            #[used(compiler)]
            static PARM: [u8; concat!("parm=", stringify!($name), ":", $desc, "\0").len()] =
                $crate::param::modinfo(concat!("parm=", stringify!($name), ":", $desc, "\0"));
        };
    };
}
pub(crate) use choice_param;
