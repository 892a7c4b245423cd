//! The surfaces every run is built with, in the order their command rings
//! are drained. A new surface is one file with a
//! [`SurfaceFactory`](super::component::SurfaceFactory) and one line here.

use super::component::SurfaceFactory;

pub(super) const SURFACES: &[SurfaceFactory] =
    &[super::keys::surface, super::midi_surface::surface, crate::osc::surface, super::feedback::surface];
