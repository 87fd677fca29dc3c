//! Runs a sequence on both backends one instruction at a time and compares
//! after each one.
//!
//! A step puts one generated instruction at its address in a code page
//! otherwise full of INT3, loads the same `VcpuState` into both backends
//! with RIP at the instruction, and runs each until an exception stub's
//! port exit: the INT3 after the instruction (#BP, the instruction
//! completed) or the exception the instruction raised. The comparison
//! covers the exit (vector, error code, CR2), the interrupt frame (RIP,
//! CS, RFLAGS with the instruction's undefined flags masked, RSP, SS), the
//! general registers and the data, stack and CPL-0 stack pages. The next
//! step starts from KVM's state, so undefined flags never propagate.
//!
//! Stepping through INT3 works the same for CPL 0 and CPL 3 on any KVM
//! (this host's KVM_GUESTDBG_SINGLESTEP does not trap CPL-3 code, see
//! docs/difftest.md); all vectors use IST1, so frames never land on the
//! sequence's own stack.

use super::flags;
use super::generate::Sequence;
use super::interp_side::{InterpSide, InterpStep};
use super::kvm_side::{KvmSide, KvmStep};
use super::sandbox::{CODE, COMPARED, KSTACK, KSTACK_TOP, Privilege, Sandbox};
use crate::state::{VcpuState, gpr, rflags};

/// What follows each instruction. At CPL 3, INT3: its stub's port exit
/// comes with a frame holding RIP, RFLAGS and RSP after the instruction.
/// At CPL 0, `OUT 0xF0, AL`: a port exit with the state after the
/// instruction in the registers. (This host's KVM emulates CPL-0 code and
/// cannot emulate INT3 or INT n there, and turns INT n at CPL 3 into #UD;
/// docs/difftest.md.)
fn terminator(p: Privilege) -> (&'static [u8], u8) {
    match p {
        Privilege::User => (&[0xCC], USER_END),
        Privilege::Kernel => (&[0xE6, KERNEL_END], KERNEL_END),
    }
}
/// #BP.
const USER_END: u8 = 3;
/// A port no stub uses (vectors 0xF0 and up are never raised).
const KERNEL_END: u8 = 0xF0;

/// Vectors that push an error code (SDM Vol. 3A, Table 7-1).
fn has_error_code(v: u8) -> bool {
    matches!(v, 8 | 10..=14 | 17 | 21 | 29 | 30)
}

pub const GPR_NAMES: [&str; 16] = [
    "rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi", "r8", "r9", "r10", "r11", "r12", "r13",
    "r14", "r15",
];

/// What one backend looked like after a step.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Post {
    /// The vector whose stub exited, or why the backend stopped instead.
    exit: Result<u8, String>,
    gpr: [u64; 16],
    /// The interrupt frame: error code (if the vector has one), RIP, CS,
    /// RFLAGS, RSP, SS.
    error: Option<u64>,
    frame: [u64; 5],
    cr2: u64,
}

/// One way the backends disagree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Item {
    /// How the step ended (vector or stop reason).
    Exit { kvm: String, interp: String },
    /// A named 64-bit value: a register, a frame field, CR2, the error code.
    Value {
        name: &'static str,
        kvm: u64,
        interp: u64,
    },
    /// RFLAGS as saved in the frame (`undefined` bits were not compared).
    Flags {
        kvm: u64,
        interp: u64,
        undefined: u64,
    },
    /// Memory from `addr` (the first differing 8-byte-aligned quadword).
    Mem { addr: u64, kvm: u64, interp: u64 },
}

/// The first difference of a sequence.
#[derive(Clone, Debug)]
pub struct Difference {
    /// Which generated instruction (index into `Sequence::instrs`).
    pub step: usize,
    /// General registers and RFLAGS before it ran.
    pub gpr: [u64; 16],
    pub rflags: u64,
    pub items: Vec<Item>,
}

/// How a sequence ended.
#[derive(Clone, Debug)]
pub enum Outcome {
    /// No difference. `vector` is the exception that ended the sequence
    /// early (both backends raised it), if any.
    Same {
        steps: usize,
        vector: Option<u8>,
    },
    Differ(Difference),
    /// KVM could not run instruction `step` (e.g. an internal error): not
    /// a difference, counted apart.
    HostCannot {
        step: usize,
        why: String,
    },
}

/// The two backends over their own copies of the sandbox.
pub struct Lockstep {
    pub kvm: KvmSide,
    pub interp: InterpSide,
    reset: VcpuState,
    scratch: VcpuState,
    kbuf: Vec<u8>,
    ibuf: Vec<u8>,
}

fn read_frame(
    mem: &crate::machine::memory::GuestMemory,
    rsp: u64,
    vector: u8,
) -> (Option<u64>, [u64; 5]) {
    let rd = |a: u64| mem.read_u64(a).unwrap_or(0xDEAD_DEAD_DEAD_DEAD);
    let (error, at) = if has_error_code(vector) {
        (Some(rd(rsp)), rsp + 8)
    } else {
        (None, rsp)
    };
    (
        error,
        [rd(at), rd(at + 8), rd(at + 16), rd(at + 24), rd(at + 32)],
    )
}

/// The CPL-0 stack bytes the frame occupies are compared as frame fields.
const FRAME_BYTES: u64 = 48;

impl Lockstep {
    pub fn new(kvm: KvmSide, interp: InterpSide, reset: VcpuState) -> Lockstep {
        Lockstep {
            kvm,
            interp,
            scratch: reset.clone(),
            reset,
            kbuf: Vec::new(),
            ibuf: Vec::new(),
        }
    }

    /// Runs `seq`, stopping at its first difference.
    pub fn run(&mut self, seq: &Sequence) -> Result<Outcome, String> {
        let mut s = Sandbox::initial_state(&self.reset, seq.privilege, seq.gpr, seq.flags);
        for mem in [&self.kvm.mem, self.interp.mem()] {
            Sandbox::write_data(mem, &seq.data, &seq.stack)?;
            Sandbox::write_sequence(mem, &[])?;
        }
        self.kvm.load_system(&s)?;
        let (term, end) = terminator(seq.privilege);
        let mut prev: Option<(u64, usize)> = None;
        for (k, gi) in seq.instrs.iter().enumerate() {
            let at = CODE + gi.offset;
            for mem in [&self.kvm.mem, self.interp.mem()] {
                if let Some((a, n)) = prev {
                    mem.write(a, &vec![0xCC; n])
                        .map_err(|_| "code page outside RAM".to_string())?;
                }
                mem.write(at, &gi.bytes)
                    .and_then(|()| mem.write(at + gi.bytes.len() as u64, term))
                    .map_err(|_| "code page outside RAM".to_string())?;
            }
            prev = Some((at, gi.bytes.len() + term.len()));
            s.rip = at;
            // At CPL 3 the previous step ended in a CPL-0 stub: CS and SS
            // go back too.
            if k > 0 && seq.privilege == Privilege::User {
                self.kvm.load_system(&s)?;
            }
            self.kvm.set_regs(&s)?;
            self.interp.load(&s);
            let kpost = self.kvm_step()?;
            let ipost = self.interp_step();
            if let Err(why) = &kpost.exit
                && why.contains("internal error")
            {
                return Ok(Outcome::HostCannot {
                    step: k,
                    why: why.clone(),
                });
            }
            let next = at + gi.bytes.len() as u64;
            // The instruction completed if the terminator after it ran.
            let completed = kpost.exit == Ok(end) && kpost.frame[0] == next + term.len() as u64;
            // A single-step trap (TF set by an earlier POPF) also comes
            // after a completed instruction.
            let trapped = kpost.exit == Ok(1) && kpost.frame[0] == next;
            let undefined = if completed || trapped {
                flags::undefined(&gi.instr, &s.gpr)
            } else {
                0
            };
            let items = self.compare(&kpost, &ipost, undefined);
            if !items.is_empty() {
                return Ok(Outcome::Differ(Difference {
                    step: k,
                    gpr: s.gpr,
                    rflags: s.rflags,
                    items,
                }));
            }
            if !completed {
                return Ok(Outcome::Same {
                    steps: k + 1,
                    vector: kpost.exit.ok(),
                });
            }
            // Continue from KVM's state: registers, and RSP and RFLAGS as
            // the INT3 saved them.
            s.gpr = kpost.gpr;
            s.gpr[gpr::RSP] = kpost.frame[3];
            s.rflags = kpost.frame[2] & !rflags::RF;
        }
        Ok(Outcome::Same {
            steps: seq.instrs.len(),
            vector: None,
        })
    }

    fn kvm_step(&mut self) -> Result<Post, String> {
        let exit = match self.kvm.step()? {
            KvmStep::Port(p) => {
                self.kvm.complete_exit()?;
                u8::try_from(p).map_err(|_| format!("OUT to port {p:#x}"))
            }
            KvmStep::Other(why) => Err(why),
        };
        self.kvm.regs(&mut self.scratch)?;
        let gpr = self.scratch.gpr;
        let (error, frame, cr2) = match exit {
            Ok(KERNEL_END) => (None, live_frame(&self.scratch), 0),
            Ok(v) => {
                let (e, f) = read_frame(&self.kvm.mem, gpr[gpr::RSP], v);
                let cr2 = if v == 14 { self.kvm.cr2()? } else { 0 };
                (e, f, cr2)
            }
            Err(_) => (None, [0; 5], 0),
        };
        Ok(Post {
            exit,
            gpr,
            error,
            frame,
            cr2,
        })
    }

    fn interp_step(&mut self) -> Post {
        let exit = match self.interp.run() {
            InterpStep::Port(p) => u8::try_from(p).map_err(|_| format!("OUT to port {p:#x}")),
            InterpStep::Other(why) => Err(why),
        };
        let st = self.interp.state();
        let gpr = st.gpr;
        let cr2 = st.cr.cr2;
        let live = live_frame(st);
        let (error, frame) = match exit {
            Ok(KERNEL_END) => (None, live),
            Ok(v) => read_frame(self.interp.mem(), gpr[gpr::RSP], v),
            Err(_) => (None, [0; 5]),
        };
        let cr2 = if exit_is(&exit, 14) { cr2 } else { 0 };
        Post {
            exit,
            gpr,
            error,
            frame,
            cr2,
        }
    }

    fn compare(&mut self, k: &Post, i: &Post, undefined: u64) -> Vec<Item> {
        let mut items = Vec::new();
        if k.exit != i.exit {
            let d = |e: &Result<u8, String>| match e {
                Ok(KERNEL_END) => "completed".to_string(),
                Ok(v) => format!("#{}", vector_name(*v)),
                Err(s) => s.clone(),
            };
            items.push(Item::Exit {
                kvm: d(&k.exit),
                interp: d(&i.exit),
            });
            return items;
        }
        if k.exit.is_ok() {
            if k.error != i.error {
                items.push(Item::Value {
                    name: "error code",
                    kvm: k.error.unwrap_or(0),
                    interp: i.error.unwrap_or(0),
                });
            }
            if k.cr2 != i.cr2 {
                items.push(Item::Value {
                    name: "cr2",
                    kvm: k.cr2,
                    interp: i.cr2,
                });
            }
            let names = ["rip", "cs", "rflags", "rsp", "ss"];
            for (n, (a, b)) in names.iter().zip(k.frame.iter().zip(i.frame.iter())) {
                if *n == "rflags" {
                    if (a ^ b) & !undefined != 0 {
                        items.push(Item::Flags {
                            kvm: *a,
                            interp: *b,
                            undefined,
                        });
                    }
                } else if a != b {
                    items.push(Item::Value {
                        name: n,
                        kvm: *a,
                        interp: *b,
                    });
                }
            }
        }
        for (r, (a, b)) in k.gpr.iter().zip(i.gpr.iter()).enumerate() {
            if a != b {
                items.push(Item::Value {
                    name: GPR_NAMES[r],
                    kvm: *a,
                    interp: *b,
                });
            }
        }
        for (base, len) in COMPARED {
            let len = if base == KSTACK {
                KSTACK_TOP - FRAME_BYTES - KSTACK
            } else {
                len
            };
            self.kbuf.resize(len as usize, 0);
            self.ibuf.resize(len as usize, 0);
            let ok = self.kvm.mem.read(base, &mut self.kbuf).is_ok()
                && self.interp.mem().read(base, &mut self.ibuf).is_ok();
            if !ok || self.kbuf == self.ibuf {
                continue;
            }
            if let Some(off) = (0..self.kbuf.len()).step_by(8).find(|&o| {
                self.kbuf[o..(o + 8).min(len as usize)] != self.ibuf[o..(o + 8).min(len as usize)]
            }) {
                let q = |b: &[u8]| {
                    let mut x = [0u8; 8];
                    let n = (b.len() - off).min(8);
                    x[..n].copy_from_slice(&b[off..off + n]);
                    u64::from_le_bytes(x)
                };
                items.push(Item::Mem {
                    addr: base + off as u64,
                    kvm: q(&self.kbuf),
                    interp: q(&self.ibuf),
                });
            }
        }
        items
    }
}

/// The CPL-0 terminator's "frame": RIP, RFLAGS and RSP as they are (no
/// instruction generated changes CS or SS).
fn live_frame(s: &VcpuState) -> [u64; 5] {
    [s.rip, 0, s.rflags, s.gpr[gpr::RSP], 0]
}

fn exit_is(e: &Result<u8, String>, v: u8) -> bool {
    matches!(e, Ok(x) if *x == v)
}

/// "BP", "GP", ... for the architectural vectors (SDM Vol. 3A Table 7-1).
pub fn vector_name(v: u8) -> String {
    const N: [&str; 22] = [
        "DE", "DB", "NMI", "BP", "OF", "BR", "UD", "NM", "DF", "CSO", "TS", "NP", "SS", "GP", "PF",
        "15", "MF", "AC", "MC", "XM", "VE", "CP",
    ];
    N.get(v as usize)
        .map_or_else(|| format!("vector {v}"), |s| s.to_string())
}
