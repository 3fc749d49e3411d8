-- Stage DfT STATS19 vehicle rows: cast, decode, and take the force from the vehicle's collision (in
-- `collisions`), else from the DfT force code at the start of the collision reference.
with

source as (
    select * from raw_stats19_vehicle
),

codes as (
    select * from stats19_codes
),

forces as (
    select * from stats19_forces
),

chosen as (
    select * from stats19_chosen
),

collision_forces as (
    select distinct collision_index, police_force_code from collisions
),

typed as (
    select
        row_ordinal,
        nullif(collision_index, '')                          as collision_index,
        try_cast(collision_year as integer)                  as collision_year,
        vehicle_reference                                    as vehicle_reference_text,
        try_cast(vehicle_reference as integer)               as vehicle_reference,
        vehicle_type                                         as vehicle_type_text,
        try_cast(vehicle_type as integer)                    as vehicle_type_code,
        try_cast(sex_of_driver as integer)                   as sex_code,
        case when try_cast(age_of_driver as integer) >= 0 then try_cast(age_of_driver as integer) end as age_of_driver
    from source
),

with_force as (
    select
        typed.*,
        coalesce(
            collision_forces.police_force_code,
            case when regexp_matches(typed.collision_index, '^[0-9]{4}[0-9]{2}')
                 then try_cast(substr(typed.collision_index, 5, 2) as integer) end
        ) as police_force_code
    from typed
    left join collision_forces on collision_forces.collision_index = typed.collision_index
),

decoded as (
    select
        with_force.*,
        forces.force_id,
        (select label from codes where variable = 'vehicle_type' and code = with_force.vehicle_type_code) as vehicle_type,
        (select label from codes where variable = 'sex_of_driver' and code = with_force.sex_code) as sex_of_driver
    from with_force
    left join forces on forces.police_force_code = with_force.police_force_code
),

checked as (
    select
        decoded.*,
        case
            when collision_index is null
                then 'collision_index (accident_index) is empty'
            when force_id is null and not exists (select 1 from chosen where chosen.all_forces)
                then 'the force of collision ' || collision_index || ' is unknown: it is not in the collisions table'
                     || ' and its index carries no DfT police force code (load its collision file too)'
            when vehicle_reference is null
                then 'vehicle_reference ''' || coalesce(vehicle_reference_text, '') || ''' is not a whole number'
            when vehicle_type_code is null
                then 'vehicle_type ''' || coalesce(vehicle_type_text, '') || ''' is not a DfT vehicle type code'
        end as reject_reason,
        force_id is null
            or exists (select 1 from chosen where chosen.all_forces or chosen.police_force_code = decoded.police_force_code)
            as in_scope
    from decoded
),

final as (
    select
        collision_index,
        collision_year,
        vehicle_reference,
        vehicle_type_code,
        vehicle_type,
        sex_of_driver,
        age_of_driver,
        force_id,
        row_ordinal,
        reject_reason,
        in_scope
    from checked
)

select * from final
