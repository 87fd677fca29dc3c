//! VMCALL / VMMCALL.
//!
//! In VMX non-root operation and in an SVM guest these become VM exits
//! (through `intercept`). Outside any guest, real hardware raises #UD;
//! kvm-unit-tests, written for KVM, treat them as KVM hypercalls, so nestor
//! implements the small part of KVM's hypercall ABI they use (Linux
//! Documentation/virt/kvm/x86/hypercalls.rst): RAX = number, RBX, RCX,
//! RDX, RSI = arguments, result in RAX; CPL > 0 gets -KVM_EPERM.

use crate::interp::exec::handler;
use iced_x86::{Instruction, Mnemonic};

use super::{Ctx, Exec, Op};
use crate::apic::ApicAction;
use crate::interp::cpu::{Mode, attn};
use crate::interp::decode::Decoded;

const KVM_ENOSYS: i64 = -1000;
const KVM_EPERM: i64 = -1;
const KVM_HC_VAPIC_POLL_IRQ: u64 = 1;
const KVM_HC_KICK_CPU: u64 = 5;
const KVM_HC_SEND_IPI: u64 = 10;

fn hypercall(ctx: &mut Ctx, _op: &Op) -> Exec {
    let long = ctx.cpu.mode == Mode::Long;
    let arg = |ctx: &Ctx, r: usize| {
        if long {
            ctx.cpu.regs[r]
        } else {
            ctx.cpu.regs[r] & 0xFFFF_FFFF
        }
    };
    let nr = arg(ctx, 0);
    let ret: i64 = if ctx.cpu.cpl != 0 {
        KVM_EPERM
    } else {
        match nr {
            KVM_HC_VAPIC_POLL_IRQ | KVM_HC_KICK_CPU => 0,
            KVM_HC_SEND_IPI => send_ipi(
                ctx,
                [arg(ctx, 3), arg(ctx, 1)],
                arg(ctx, 2),
                arg(ctx, 6),
                long,
            ) as i64,
            _ => KVM_ENOSYS,
        }
    };
    ctx.cpu.regs[0] = if long {
        ret as u64
    } else {
        ret as u64 & 0xFFFF_FFFF
    };
    Ok(())
}

/// KVM_HC_SEND_IPI: a fixed IPI (vector and mode from `icr`) to APIC IDs
/// `min + i` for every bit i of the two bitmaps; returns how many were
/// sent (IDs of vCPUs that exist).
fn send_ipi(ctx: &mut Ctx, bitmap: [u64; 2], min: u64, icr: u64, long: bool) -> u64 {
    let width = if long { 64 } else { 32 };
    let cpus = u64::from(ctx.cpu.vm.cpus());
    let mut sent = 0;
    for (half, &bits) in bitmap.iter().enumerate() {
        for i in 0..width {
            if bits >> i & 1 == 0 {
                continue;
            }
            let Some(id) = min.checked_add((half * width + i) as u64) else {
                continue;
            };
            if id >= cpus {
                continue;
            }
            let icr = (icr & 0x0000_0000_000C_0FFF & !(3 << 18)) | id << 32;
            let now = ctx.cpu.now();
            let id = ctx.cpu.id;
            ctx.plat()
                .apic_action(now, id, ApicAction::SendIpi { icr, x2apic: true });
            sent += 1;
        }
    }
    if sent > 0 {
        ctx.cpu.attention |= attn::EXIT;
    }
    sent
}

pub fn decode(insn: &Instruction, _op: &mut Op, _ctx: &Ctx) -> Option<Decoded> {
    match insn.mnemonic() {
        Mnemonic::Vmcall | Mnemonic::Vmmcall => Decoded::end(handler(hypercall)),
        _ => None,
    }
}
