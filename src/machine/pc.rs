//! The PC: a CPU model, RAM, the vCPUs and the board with the standard
//! devices, assembled from a [`MachineConfig`] and booted from a multiboot
//! kernel or a firmware image.

use std::rc::Rc;

use super::board::Board;
use super::device::MachineInfo;
use super::layout::port;
use super::memory::GuestMemory;
use crate::devices::acpi_pm::AcpiPm;
use crate::devices::debug_exit::DebugExit;
use crate::devices::fw_cfg::FwCfg;
use crate::devices::hpet::Hpet;
use crate::devices::misc::SystemPorts;
use crate::devices::pci::{BarKind, PciBus};
use crate::devices::pit::Pit;
use crate::devices::rtc::Rtc;
use crate::devices::testdev::TestDev;
use crate::devices::uart::{Uart, UartOutput};
use crate::interp::{Cpu, Interp};
use crate::model::CpuModel;
use crate::state::VcpuState;
use crate::vm::VmCpuModel;

/// What to build.
#[derive(Clone, Debug)]
pub struct MachineConfig {
    pub model: CpuModel,
    pub cpus: u32,
    pub ram_bytes: u64,
    pub serial: UartOutput,
}

/// What to start.
#[derive(Clone, Debug)]
pub enum Boot {
    /// A multiboot v1 kernel with its command line and optional module.
    Multiboot {
        image: Vec<u8>,
        cmdline: String,
        initrd: Option<Vec<u8>>,
    },
    /// A firmware image mapped to end at 4 GiB; the BSP starts at the reset
    /// vector in the RESET state.
    Firmware { image: Vec<u8> },
}

/// Why a machine could not be built or booted (one line).
#[derive(Debug)]
pub struct MachineError(pub String);

impl std::fmt::Display for MachineError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for MachineError {}

/// The most vCPUs a machine may have (APIC IDs and the MADT are 8-bit).
pub const MAX_CPUS: u32 = 255;

/// A machine before a backend takes it: the VM-wide CPU model, each
/// vCPU's initial state (RESET, with the multiboot entry state on the BSP)
/// and the board with memory loaded and devices attached. Both backends
/// start from this, so loading and device assembly exist once.
pub struct MachineParts {
    pub vm: VmCpuModel,
    pub states: Vec<VcpuState>,
    pub board: Board,
}

pub struct Machine {
    pub vm: Rc<VmCpuModel>,
    pub vcpus: Vec<Interp>,
    pub board: Board,
    /// Virtual time in nanoseconds.
    pub now: u64,
    /// Instructions retired by all vCPUs.
    pub retired: u64,
    /// Next vCPU to run first (round robin).
    pub(crate) rr: usize,
    /// Each vCPU's next local APIC timer expiry.
    pub(crate) apic_deadlines: Vec<Option<u64>>,
    /// Interactive serial input (a terminal), polled between slices.
    pub serial_rx: Option<std::sync::mpsc::Receiver<u8>>,
}

impl Machine {
    /// Builds the PC and boots `boot` on the interpreter.
    pub fn new(cfg: MachineConfig, boot: Boot) -> Result<Machine, MachineError> {
        Ok(Machine::from_parts(MachineParts::build(cfg, boot)?))
    }

    /// The interpreter backend for an assembled machine.
    pub fn from_parts(parts: MachineParts) -> Machine {
        let MachineParts { vm, states, board } = parts;
        let cpus = states.len();
        let vm = Rc::new(vm);
        let vcpus = states
            .into_iter()
            .enumerate()
            .map(|(i, s)| Interp::new(Cpu::new(vm.clone(), i as u32, s)))
            .collect();
        Machine {
            vm,
            vcpus,
            board,
            now: 0,
            retired: 0,
            rr: 0,
            apic_deadlines: vec![None; cpus],
            serial_rx: None,
        }
    }
}

impl MachineParts {
    /// Assembles the PC described by `cfg` and loads `boot` into it.
    pub fn build(cfg: MachineConfig, boot: Boot) -> Result<MachineParts, MachineError> {
        if cfg.cpus == 0 || cfg.cpus > MAX_CPUS {
            return Err(MachineError(format!(
                "--smp must be between 1 and {MAX_CPUS}, got {}",
                cfg.cpus
            )));
        }
        let mut mem = GuestMemory::new(cfg.ram_bytes).map_err(|e| MachineError(e.to_string()))?;
        let info = MachineInfo {
            cpus: cfg.cpus,
            ram_bytes: mem.ram_size(),
            low_ram: mem.low_ram(),
            high_ram: mem.high_ram(),
        };
        let mut vm = VmCpuModel::new(cfg.model, cfg.cpus);
        // One model per VM, fixed from here on.
        vm.freeze();

        let mut states: Vec<_> = (0..cfg.cpus).map(|i| vm.reset_vcpu(i, 0).0).collect();
        match &boot {
            Boot::Multiboot {
                image,
                cmdline,
                initrd,
            } => {
                let bi = crate::loader::load_kernel(&mem, image, cmdline, initrd.as_deref())
                    .map_err(|e| MachineError(e.to_string()))?;
                crate::firmware::acpi::build_acpi_tables(&mem, cfg.cpus)
                    .map_err(|e| MachineError(format!("building ACPI tables: {e}")))?;
                crate::loader::multiboot_entry_state(&mut states[0], &bi);
                // Firmware would have enabled every local APIC.
                for s in states.iter_mut().skip(1) {
                    s.msrs.apic_base |= crate::apic::base::EN;
                }
            }
            Boot::Firmware { image } => {
                crate::loader::load_firmware(&mut mem, image)
                    .map_err(|e| MachineError(e.to_string()))?;
            }
        }

        let mut board = Board::new(mem, info.clone());
        let add =
            |board: &mut Board,
             dev: Box<dyn crate::machine::device::Device>,
             ports: &[(u16, u32)],
             mmio: &[(u64, u64)]| { board.add(dev, ports, mmio).map_err(MachineError) };
        add(
            &mut board,
            Box::new(Uart::new(cfg.serial)),
            &[(port::COM1, Uart::PORT_COUNT)],
            &[],
        )?;
        add(
            &mut board,
            Box::new(DebugExit::new()),
            &DebugExit::PORTS,
            &[],
        )?;
        add(
            &mut board,
            Box::new(FwCfg::new(&info)),
            &[(port::FW_CFG_SELECTOR, FwCfg::PORT_COUNT)],
            &[],
        )?;
        add(&mut board, Box::<Pit>::default(), &Pit::PORTS, &[])?;
        add(
            &mut board,
            Box::new(Rtc::new(&info)),
            &[(port::CMOS_INDEX, Rtc::PORT_COUNT)],
            &[],
        )?;
        add(
            &mut board,
            Box::<TestDev>::default(),
            &TestDev::PORTS,
            &[TestDev::MMIO],
        )?;
        add(
            &mut board,
            Box::<AcpiPm>::default(),
            &[(port::ACPI_PM_BASE, AcpiPm::PORT_COUNT)],
            &[],
        )?;
        add(
            &mut board,
            Box::<SystemPorts>::default(),
            &SystemPorts::PORTS,
            &[],
        )?;
        add(&mut board, Box::<Hpet>::default(), &[], &[Hpet::MMIO])?;
        let pci = PciBus::new();
        let mut pci_ports: Vec<(u16, u32)> = PciBus::PORTS.to_vec();
        let mut pci_mmio = Vec::new();
        for r in pci.bar_regions() {
            match r.kind {
                BarKind::Io => pci_ports.push((r.base as u16, r.size as u32)),
                BarKind::Memory => pci_mmio.push((r.base, r.size)),
            }
        }
        add(&mut board, Box::new(pci), &pci_ports, &pci_mmio)?;

        Ok(MachineParts { vm, states, board })
    }
}
